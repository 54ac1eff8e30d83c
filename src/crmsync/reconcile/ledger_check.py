"""The ownership ledger against crmsync's markers in Schematic. Pure.

Every override crmsync writes carries `[crmsync:<token>]` in its note. `check_ledger` finds marked
overrides the ledger does not know (an empty ledger facing them is most likely the wrong state
database: a typed `UnknownMarkers`, never a list of ordinary conflicts); `choose_rebuild` picks
what `crmsync ledger rebuild` takes back. Called by service/ledger.py; `note_sources` reads back
the CRMs a note names (the inverse of service/apply.py `make_note`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from crmsync.domain import CompanyId, FeatureId, OverrideId, Source

NOTE_START = "Managed by crmsync from "
_NOTE_DEALS = re.compile(rf"\b({'|'.join(s.value for s in Source)}) deals? ([^;]+?)(?=; |$)")
TOKEN_MARK = "[crmsync:"  # then the token and "]": the marker at the end of every note crmsync writes


@dataclass(frozen=True)
class Marked:
    """A live override whose note carries crmsync's marker."""

    override_id: OverrideId
    company_id: CompanyId
    feature_id: FeatureId
    token: str
    note: str  # the newest note carrying the marker


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


def note_token(note: str) -> str | None:
    """The token crmsync put in a note, if any (the last marker: a note quoting another counts once)."""
    start = note.rfind(TOKEN_MARK)
    if start < 0:
        return None
    end = note.find("]", start)
    return note[start + len(TOKEN_MARK) : end] if end > 0 else None


def note_sources(note: str, sources: Collection[str]) -> tuple[str, ...]:
    """The CRMs (of `sources`) a crmsync note names: `Managed by crmsync from hubspot deal 1; salesforce
    deals 2, 3; rule …` → ("hubspot", "salesforce"). Unknown words are ignored."""
    start = note.find(NOTE_START)
    if start < 0:
        return ()
    found: list[str] = []
    for part in note[start + len(NOTE_START) :].split("; "):
        word = part.split(" ", 1)[0]
        if part.startswith("rule "):
            break
        if word in sources and word not in found:
            found.append(word)
    return tuple(found)


def note_deals(note: str) -> tuple[tuple[str, str], ...]:
    """The (source, deal id) pairs a crmsync note names, in order: `Managed by crmsync from hubspot deals
    1001, 1014; salesforce deal 006A; rule …` → hubspot 1001, hubspot 1014, salesforce 006A. A note cut
    short (…) gives the deals it still names whole; a person's note, none."""
    head = note.split("; rule ", 1)[0]
    pairs = [(src, d.strip()) for src, ids in _NOTE_DEALS.findall(head) for d in ids.split(",")]
    return tuple(dict.fromkeys(p for p in pairs if p[1] and "…" not in p[1]))
