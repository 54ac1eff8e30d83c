"""Adoption: taking an override crmsync did not create into its ledger. Pure.

An unowned live override standing where a desired override should be (a conflict) is
adoptable when crmsync owns nothing at that (company, feature); of several, the newest is
adoptable (created_at, then Schematic's newest-first order) and the others stay conflicts.
`crmsync adopt` records them on request; a mapping file with `on_conflict: adopt` has apply
record them (`auto`). Called by service/ownership.py.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from crmsync.domain import CompanyId, Conflict, DesiredOverride, FeatureId, LiveOverride
from crmsync.reconcile.diff import created_stamp, same_value

Key = tuple[CompanyId, FeatureId]


@dataclass(frozen=True)
class Adoption:
    """An unowned override crmsync could take over, with what the deals want there."""

    live: LiveOverride
    desired: DesiredOverride
    auto: bool = False  # every mapping file behind it says `on_conflict: adopt`: apply adopts it

    @property
    def key(self) -> Key:
        """The (company, feature) pair."""
        return (self.live.company_id, self.live.feature_id)

    @property
    def value_matches(self) -> bool:
        """Whether the override already grants what the deals say (adopting it then writes nothing)."""
        return same_value(self.live, self.desired)


def adoptable(
    conflicts: Iterable[Conflict],
    owned_keys: Collection[Key],
    *,
    auto: Callable[[DesiredOverride], bool] = lambda want: False,
    held: Collection[Key] = (),
) -> tuple[Adoption, ...]:
    """One adoption per conflicted pair crmsync owns nothing at: the newest override there.

    `auto` says whether a desired override's mapping files adopt on their own; never for a
    `held` (released) pair, which only an explicit `crmsync adopt` takes back."""
    newest: dict[Key, Conflict] = {}
    for conflict in conflicts:
        key = (conflict.company_id, conflict.feature_id)
        if key in owned_keys:
            continue
        best = newest.get(key)
        if best is None or _age(conflict.live) < _age(best.live):
            newest[key] = conflict
    return tuple(
        Adoption(c.live, c.desired, auto=key not in held and auto(c.desired)) for key, c in sorted(newest.items())
    )


def _age(override: LiveOverride) -> float:
    """Sorts newest first; on a tie the earlier conflict wins (Schematic lists the newest first)."""
    return -created_stamp(override)
