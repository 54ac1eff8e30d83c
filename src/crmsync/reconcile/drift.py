"""Drift: an owned override changed or deleted by hand since crmsync last applied it. Pure.

`detect` compares the live overrides with the ledger's last-applied values and attaches each
drift's policy (`drift: overwrite|keep|fail` of the rules behind the desired override) and what it
leads to; `settle` then makes the diff obey it: `keep` drops the restoring update (or, for a
deleted override, the re-create, and releases it), `fail` keeps the changes for apply to refuse.
Called by service/ownership.py from build_plan; the Plan reports the result.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from crmsync.domain import Action, CompanyId, DesiredOverride, FeatureId, LiveOverride, OverrideId, OverrideValue
from crmsync.domain import DriftPolicy as DriftPolicy  # re-exported: the mapping files' `drift:`, judged here
from crmsync.reconcile.diff import DiffResult, expired

Key = tuple[CompanyId, FeatureId]


class DriftAction(StrEnum):
    """What this run does about one drift."""

    RESTORE = "restore"  # update back to the deals' value
    KEEP = "keep"  # leave the edit; reported every run
    REFUSE = "refuse"  # apply refuses (drift: fail)
    DELETE = "delete"  # no deal grants it any more: deleted as usual
    RECREATE = "recreate"  # deleted by hand: created again
    RELEASE = "release"  # deleted by hand under keep: crmsync stops managing the pair
    FORGET = "forget"  # deleted by hand and nothing to re-create: the ledger row is closed


LEDGER_ONLY = frozenset({DriftAction.RELEASE, DriftAction.FORGET})
"""Actions an apply records in the ledger without writing to Schematic."""


@dataclass(frozen=True)
class Applied:
    """A ledger row as drift detection needs it: an active owned override and what crmsync last applied."""

    override_id: OverrideId
    company_id: CompanyId
    feature_id: FeatureId
    value: OverrideValue


@dataclass(frozen=True)
class Drift:
    """One owned override that differs from what crmsync last applied (`live` None: deleted by hand)."""

    company_id: CompanyId
    feature_id: FeatureId
    override_id: OverrideId
    last_applied: OverrideValue
    live: OverrideValue | None
    policy: DriftPolicy
    action: DriftAction

    @property
    def key(self) -> Key:
        """The (company, feature) pair."""
        return (self.company_id, self.feature_id)

    def describe(self) -> str:
        """e.g. `edited by hand: 75 → 5; would restore (drift: overwrite)`."""
        if self.live is None:
            what = f"deleted by hand (crmsync had applied {self.last_applied.describe()})"
        else:
            what = f"edited by hand: {self.last_applied.describe()} → {self.live.describe()}"
        return f"{what}; {OUTCOME[self.action]} (drift: {self.policy.value})"


OUTCOME = {  # what apply would do: a plan says it before anything is applied
    DriftAction.RESTORE: "would restore",
    DriftAction.KEEP: "kept: crmsync leaves the edit in place",
    DriftAction.REFUSE: "apply refuses until it is restored by hand, released, or the policy changes",
    DriftAction.DELETE: "would delete: no counted deal grants it any more",
    DriftAction.RECREATE: "would re-create",
    DriftAction.RELEASE: "would release: crmsync stops managing it and does not re-create it",
    DriftAction.FORGET: "nothing to re-create: would drop it from crmsync's ledger",
}


def detect(
    applied: Iterable[Applied],
    live: Iterable[LiveOverride],
    desired: Mapping[Key, DesiredOverride],
    policy: Callable[[DesiredOverride], DriftPolicy],
    *,
    scope: Collection[CompanyId] | None = None,
    keep: Collection[OverrideId] = (),
    now: datetime | None = None,
) -> tuple[Drift, ...]:
    """Every owned override edited or deleted by hand, with its policy and this run's action.

    An edit that already equals the desired value is no drift (nothing to do). "Deleted" is only
    judged for companies the live read covered (`scope`; None: all). An override no longer
    desired follows `overwrite` (it is deleted as usual); `keep` lists owned overrides that must
    not be deleted this run, and expired ones are left in place (see diff).
    """
    covered = (lambda c: True) if scope is None else frozenset(scope).__contains__
    by_id = {o.id: o for o in live}
    found: list[Drift] = []
    for row in applied:
        if not covered(row.company_id):
            continue
        key = (row.company_id, row.feature_id)
        want = desired.get(key)
        current = by_id.get(row.override_id)
        if current is not None and (current.value == row.value or (want is not None and current.value == want.value)):
            continue
        if want is None:
            deletable = current is None or not expired(current, now)
            if row.override_id in keep or not deletable:
                continue
            action = DriftAction.DELETE if current is not None else DriftAction.FORGET
            found.append(_drift(row, current, DriftPolicy.OVERWRITE, action))
            continue
        chosen = policy(want)
        found.append(_drift(row, current, chosen, _action(chosen, gone=current is None)))
    return tuple(found)


def settle(
    result: DiffResult, drift: Iterable[Drift], held: Collection[Key] = ()
) -> tuple[DiffResult, tuple[Drift, ...]]:
    """Make the diff obey each drift's policy; `held` are released pairs, never created.

    Drops the update of a kept edit and the create of a released or held pair; a re-create the
    diff does not make (another override stands there) becomes `forget`, a delete or a restore it
    does not make (withheld) is not reported."""
    drift = tuple(drift)
    kept = {d.override_id for d in drift if d.action is DriftAction.KEEP}
    blocked = set(held) | {d.key for d in drift if d.action is DriftAction.RELEASE}
    changes = tuple(
        c
        for c in result.changes
        if not (c.action is Action.UPDATE and c.before is not None and c.before.id in kept)
        and not (c.action is Action.CREATE and (c.company_id, c.feature_id) in blocked)
    )
    created = {(c.company_id, c.feature_id) for c in changes if c.action is Action.CREATE}
    deleted = {c.before.id for c in changes if c.action is Action.DELETE and c.before is not None}
    written = {c.before.id for c in changes if c.before is not None}
    settled: list[Drift] = []
    for d in drift:
        if d.action is DriftAction.RECREATE and d.key not in created:
            d = replace(d, action=DriftAction.FORGET)
        if d.action is DriftAction.DELETE and d.override_id not in deleted:
            continue
        if d.action is DriftAction.RESTORE and d.override_id not in written:
            continue
        settled.append(d)
    return DiffResult(changes, result.conflicts), tuple(settled)


def _action(policy: DriftPolicy, *, gone: bool) -> DriftAction:
    if policy is DriftPolicy.FAIL:
        return DriftAction.REFUSE
    if policy is DriftPolicy.KEEP:
        return DriftAction.RELEASE if gone else DriftAction.KEEP
    return DriftAction.RECREATE if gone else DriftAction.RESTORE


def _drift(row: Applied, current: LiveOverride | None, policy: DriftPolicy, action: DriftAction) -> Drift:
    live = current.value if current is not None else None
    return Drift(row.company_id, row.feature_id, row.override_id, row.value, live, policy, action)
