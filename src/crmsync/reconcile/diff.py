"""diff(desired, live, owned) → changes and conflicts. Pure.

The one rule that matters most lives here: an override crmsync does not own is never
updated or deleted; where one stands in the way of a desired override it is a conflict.
Called by the service; the resulting `Plan` is built in `plan.py`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath

from crmsync.domain import (
    Action,
    Change,
    CompanyId,
    Conflict,
    DesiredOverride,
    FeatureId,
    LiveOverride,
    OverrideId,
    gc_paused,
)

Key = tuple[CompanyId, FeatureId]


@dataclass(frozen=True)
class DiffResult:
    """The changes to make, in no particular order, and the conflicts to report."""

    changes: tuple[Change, ...]
    conflicts: tuple[Conflict, ...]


def diff(
    desired: Mapping[Key, DesiredOverride],
    live: Iterable[LiveOverride],
    owned: Collection[OverrideId],
    *,
    scope: Collection[CompanyId] | None = None,
    keep: Collection[OverrideId] = (),
    now: datetime | None = None,
) -> DiffResult:
    """Compare what should be with what is, touching only overrides in `owned`.

    `scope` limits the diff to some companies (a targeted reconcile); `keep` lists owned
    overrides that must not be deleted this run (their source's read was partial). An owned
    override already past its expiration (at `now`) is left in place: Schematic keeps it
    inert, and a contract extension updates it in place.
    """
    with gc_paused():  # a plan's worth of small objects, no cycles (domain.gc_paused)
        return _diff(desired, live, owned, scope=scope, keep=keep, now=now)


def _diff(
    desired: Mapping[Key, DesiredOverride],
    live: Iterable[LiveOverride],
    owned: Collection[OverrideId],
    *,
    scope: Collection[CompanyId] | None,
    keep: Collection[OverrideId],
    now: datetime | None,
) -> DiffResult:
    owned_ids = frozenset(owned)
    in_scope = (lambda c: True) if scope is None else frozenset(scope).__contains__
    by_key: dict[Key, list[LiveOverride]] = defaultdict(list)
    for override in live:
        if in_scope(override.company_id):
            by_key[(override.company_id, override.feature_id)].append(override)
    changes: list[Change] = []
    conflicts: list[Conflict] = []
    for key, want in desired.items():
        if not in_scope(key[0]):
            continue
        mine = sorted((o for o in by_key.get(key, []) if o.id in owned_ids), key=_newest_first)
        others = [o for o in by_key.get(key, []) if o.id not in owned_ids]
        conflicts.extend(Conflict(key[0], key[1], o, want) for o in others)
        if not mine:
            if not others:
                changes.append(Change(Action.CREATE, key[0], key[1], None, want, _because(want)))
            continue
        current, *duplicates = mine
        if not same_value(current, want):
            reason = f"{current.value.describe()} → {want.value.describe()} ({_because(want)})"
            changes.append(Change(Action.UPDATE, key[0], key[1], current, want, reason))
        changes.extend(Change(Action.DELETE, key[0], key[1], d, None, f"duplicate of {current.id}") for d in duplicates)
    for key, overrides in by_key.items():
        if key in desired:
            continue
        changes.extend(
            Change(Action.DELETE, key[0], key[1], o, None, "no counted deal grants it any more")
            for o in overrides
            if o.id in owned_ids and o.id not in keep and not expired(o, now)
        )
    return DiffResult(tuple(changes), tuple(conflicts))


def newly_expired(
    desired: Collection[Key],
    live: Iterable[LiveOverride],
    owned: Collection[OverrideId],
    now: datetime,
    since: datetime | None,
) -> tuple[LiveOverride, ...]:
    """Owned overrides the deals stopped wanting because they expired since the last run (`since`, the
    instant that run judged; None: every one already expired). The diff leaves them in place (inert in
    Schematic); the plan names them once, on the run they expire."""
    found = (o for o in live if o.id in owned and (o.company_id, o.feature_id) not in desired and expired(o, now))
    gone = [o for o in found if since is None or (o.value.expiration is not None and o.value.expiration > since)]
    return tuple(sorted(gone, key=lambda o: (o.company_id, o.feature_id, o.id)))


def expired(override: LiveOverride, now: datetime | None) -> bool:
    """Whether an override's expiration has passed."""
    expiration = override.value.expiration
    return now is not None and expiration is not None and expiration <= now


def same_value(live: LiveOverride, want: DesiredOverride) -> bool:
    """Whether the live override already grants exactly what is desired."""
    return live.value == want.value


def created_stamp(override: LiveOverride) -> float:
    """When an override was created, as a POSIX timestamp (0 when Schematic did not say)."""
    return override.created_at.timestamp() if override.created_at else 0.0


def _newest_first(override: LiveOverride) -> tuple[float, str]:
    return (-created_stamp(override), override.id)


def _because(want: DesiredOverride) -> str:
    deals = ", ".join(f"{source.value} {deal}" for source, deal in want.provenance.deals)
    rules = ", ".join(f"{PurePath(r.path).name}:{r.line}" for r in want.provenance.rules)
    return f"deal {deals} via {rules}"
