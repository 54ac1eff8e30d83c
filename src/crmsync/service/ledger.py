"""The ledger against crmsync's markers in Schematic: a lost or wrong ledger is said loudly, and
`crmsync ledger rebuild` takes ownership back from the markers with zero Schematic writes.

Called by service/planning.py (`unknown_markers` while planning), service/safety.py (apply refuses
facing an empty ledger) and cli/ledger.py (`rebuild`). The decisions are reconcile/ledger_check.py's.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

from crmsync.domain import LiveOverride, OverrideId, Source
from crmsync.reconcile.adopt import Adoption
from crmsync.reconcile.diff import DiffResult
from crmsync.reconcile.ledger_check import (
    Marked,
    UnknownMarkers,
    check_ledger,
    choose_rebuild,
)
from crmsync.reconcile.note import note_sources, note_token, released_after
from crmsync.reconcile.notices import PlanWarning, Refusal, RefusalKind, WarningKind
from crmsync.reconcile.plan import value_json
from crmsync.service.context import Context, PlanRun
from crmsync.store.repository import Owned, Store

SOURCES = tuple(s.value for s in Source)


@dataclass(frozen=True)
class Rebuilt:
    """What a rebuild did: the rows restored, the marked overrides already known, those left unowned."""

    database: str
    restored: tuple[tuple[Marked, tuple[str, ...]], ...]  # with the CRMs its note names
    known: tuple[Marked, ...]
    duplicates: tuple[Marked, ...]
    unmarked: int  # live overrides without crmsync's marker: never taken


def marked_overrides(live: Collection[LiveOverride]) -> list[Marked]:
    """The live overrides whose newest marked note carries crmsync's token."""
    found = []
    for o in live:
        notes = [n for n in o.notes if note_token(n)]
        if notes:
            token = note_token(notes[-1])
            assert token is not None
            released = released_after(o.notes, token)
            found.append(Marked(o.id, o.company_id, o.feature_id, token, notes[-1], released))
    return found


def unknown_markers(
    store: Store, live: Collection[LiveOverride], rows: Collection[Owned] = ()
) -> UnknownMarkers | None:
    """Marked overrides the ledger does not know (any row, whatever its status, knows its override).
    `rows`: ledger rows already in hand; when they know every marked override, the ledger is not read
    again, else `store.known()` reads the tokens and ids of every row (never the whole ledger)."""
    tokens, ids = {o.token for o in rows}, {o.override_id for o in rows if o.override_id}
    if all(_known_here(o, tokens, ids) for o in live):  # the rows in hand are the ledger's: all known
        return None
    marked = marked_overrides(live)
    if not marked:
        return None
    every_token, every_id = store.known()
    return check_ledger(marked, every_token, {OverrideId(i) for i in every_id})


def _known_here(override: LiveOverride, tokens: Collection[str], ids: Collection[OverrideId]) -> bool:
    """Unmarked, or marked and known by its id or by the token of its newest marked note (as
    `marked_overrides` and `check_ledger` judge it), without building a `Marked`."""
    if override.id in ids:
        return True
    for note in reversed(override.notes):
        token = note_token(note)
        if token:
            return token in tokens
    return True


def ledger_message(store: Store, unknown: UnknownMarkers) -> str:
    """The warning (and, facing an empty ledger, apply's refusal) in words, naming the database."""
    if unknown.ledger_empty:
        return (
            f"the ledger at {store.name} is empty but {unknown.count} override(s) in Schematic carry crmsync's "
            "marker: this is probably the wrong state database; set CRMSYNC_DATABASE_URL to the one crmsync applied "
            "with, or run `crmsync ledger rebuild` to take them back from their markers"
        )
    return (
        f"{unknown.count} override(s) in Schematic carry crmsync's marker but are not in the ledger at {store.name} "
        "(another state database manages them, or this one lost them: `crmsync ledger rebuild` takes them back)"
    )


def hide_marked(
    result: DiffResult, adoptions: tuple[Adoption, ...], unknown: UnknownMarkers | None
) -> tuple[DiffResult, tuple[Adoption, ...]]:
    """Facing an empty ledger, crmsync's own overrides are neither conflicts nor adoptable one by one
    (the one warning says what happened)."""
    if unknown is None or not unknown.ledger_empty:
        return result, adoptions
    hidden = unknown.override_ids
    conflicts = tuple(c for c in result.conflicts if c.live.id not in hidden)
    return replace(result, conflicts=conflicts), tuple(a for a in adoptions if a.live.id not in hidden)


def ledger_warnings(store: Store, unknown: UnknownMarkers | None) -> tuple[PlanWarning, ...]:
    """The plan's warning about marked overrides the ledger does not know."""
    if unknown is None:
        return ()
    return (PlanWarning(WarningKind.UNKNOWN_MARKERS, ledger_message(store, unknown)),)


def ledger_refusals(ctx: Context, run: PlanRun) -> list[Refusal]:
    """Apply refuses on a read-only state database (ownership is recorded before each write), and
    while the ledger (read again now) is empty and overrides carry crmsync's marker."""
    if ctx.store.readonly:
        message = f"the state database {ctx.store.name} is read-only; apply records ownership there before each write"
        return [Refusal(RefusalKind.READ_ONLY_STATE, message)]
    unknown = unknown_markers(ctx.store, run.live)
    if unknown is None or not unknown.ledger_empty:
        return []
    return [Refusal(RefusalKind.LEDGER_UNKNOWN, ledger_message(ctx.store, unknown), affected=unknown.count)]


def rebuild(ctx: Context) -> Rebuilt:
    """Every override carrying crmsync's marker that the ledger does not know becomes an active row with
    its token, its value as last applied and the CRMs its note names; one whose note says `crmsync
    release` let it go becomes a released row (never managed again until adopted). Reads Schematic,
    writes only the ledger."""
    live = ctx.schematic.list_overrides()
    marked = marked_overrides(live)
    tokens, ids = ctx.store.known()
    pairs = {(o.company_id, o.feature_id) for o in ctx.store.owned()}
    choice = choose_rebuild(marked, tokens, {OverrideId(i) for i in ids}, pairs)
    values = {o.id: o.value for o in live}
    restored = []
    for m in choice.restore:
        sources = note_sources(m.note, SOURCES)
        ctx.store.restore(m, sources, value_json(values[m.override_id]))
        restored.append((m, sources))
    return Rebuilt(ctx.store.name, tuple(restored), choice.known, choice.duplicates, len(live) - len(marked))
