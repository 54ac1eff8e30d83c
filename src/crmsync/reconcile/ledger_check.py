"""The ownership ledger against crmsync's markers in Schematic. Pure.

Every override crmsync writes carries `[crmsync:<token>]` in its note. `check_ledger` finds marked
overrides the ledger does not know (an empty ledger facing them is most likely the wrong state
database: a typed `UnknownMarkers`, never a list of ordinary conflicts); `choose_rebuild` picks
what `crmsync ledger rebuild` takes back. Called by service/ledger.py; the note format itself (write
and parse) is reconcile/note.py's.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from crmsync.domain import CompanyId, FeatureId, OverrideId


@dataclass(frozen=True)
class Marked:
    """A live override whose note carries crmsync's marker."""

    override_id: OverrideId
    company_id: CompanyId
    feature_id: FeatureId
    token: str
    note: str  # the newest note carrying the marker
    released: bool = False  # a later note says `crmsync release` let it go: restored released, never managed


@dataclass(frozen=True)
class UnknownMarkers:
    """Overrides carrying crmsync's marker that the ledger does not know.

    `ledger_empty`: the ledger knows no override at all, so these are most likely crmsync's own
    overrides recorded in another state database: apply refuses until the right database is used
    or the ledger is rebuilt from the markers."""

    override_ids: frozenset[OverrideId]
    ledger_empty: bool

    @property
    def count(self) -> int:
        """How many marked overrides the ledger does not know."""
        return len(self.override_ids)


@dataclass(frozen=True)
class RebuildChoice:
    """What a rebuild does with the marked overrides."""

    restore: tuple[Marked, ...]  # not in the ledger: become active rows with their token
    known: tuple[Marked, ...]  # already in the ledger (by token or override id)
    duplicates: tuple[Marked, ...]  # a second marked override for a pair already restored or owned: left unowned


def check_ledger(
    marked: Collection[Marked], known_tokens: Collection[str], known_ids: Collection[OverrideId]
) -> UnknownMarkers | None:
    """The marked overrides neither whose token nor whose id the ledger knows; None when there are none."""
    unknown = frozenset(m.override_id for m in marked if m.token not in known_tokens and m.override_id not in known_ids)
    if not unknown:
        return None
    return UnknownMarkers(unknown, ledger_empty=not known_tokens and not known_ids)


def choose_rebuild(
    marked: Sequence[Marked],
    known_tokens: Collection[str],
    known_ids: Collection[OverrideId],
    owned_pairs: Collection[tuple[CompanyId, FeatureId]],
) -> RebuildChoice:
    """Which marked overrides to take back: every one the ledger does not know, at most one per
    company and feature (the ledger holds one active row per pair; the first by override id wins)."""
    restore: list[Marked] = []
    known: list[Marked] = []
    duplicates: list[Marked] = []
    taken = set(owned_pairs)
    for m in sorted(marked, key=lambda m: (m.company_id, m.feature_id, m.override_id)):
        if m.token in known_tokens or m.override_id in known_ids:
            known.append(m)
        elif (m.company_id, m.feature_id) in taken:
            duplicates.append(m)
        else:
            taken.add((m.company_id, m.feature_id))
            restore.append(m)
    return RebuildChoice(tuple(restore), tuple(known), tuple(duplicates))
