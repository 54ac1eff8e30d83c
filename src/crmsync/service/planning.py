"""Orchestration of one reconcile: read deals → translate → combine → diff (with adoption and
drift, service/ownership.py) → Plan.

Called by the reconcile use case (service/reconcile.py), `explain`, `plan --base` and the mapping
preview with a `Context` of ready edges. It never writes to Schematic: `apply.py` does. One read of
the deals can feed the plans of two mapping sets (`build_plans`); each read from a CRM keeps the
deal snapshot current (service/snapshot.py). A reconcile can be scoped to some companies; the pure
core never learns what triggered it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime

from crmsync import progress
from crmsync.connectors.base import PageSink, ReadResult
from crmsync.domain import (
    Company,
    CompanyId,
    CompanyKey,
    Conflict,
    DesiredOverride,
    Feature,
    FeatureId,
    LedgerState,
    LiveOverride,
    OverrideId,
    Pending,
    Source,
)
from crmsync.errors import MappingError
from crmsync.mapping.rules import MappingFile, Mappings
from crmsync.mapping.translate import Translation, Translator
from crmsync.reconcile.combine import Combiner, combine
from crmsync.reconcile.diff import DiffResult, newly_expired
from crmsync.reconcile.drift import settle
from crmsync.reconcile.effective import change_effects
from crmsync.reconcile.entitlements import PlanEntitlements
from crmsync.reconcile.guards import shrunk_sources, withhold_deletes
from crmsync.reconcile.note import note_token
from crmsync.reconcile.plan import Plan, value_json
from crmsync.service.context import Context, PlanRun, owned_ids_of
from crmsync.service.entitlements import plan_warnings, read_plans
from crmsync.service.ledger import hide_marked, ledger_warnings, unknown_markers
from crmsync.service.ownership import RulePolicies, held_keys, reconcile_ownership
from crmsync.service.preflight import Checked, preflight
from crmsync.service.reading import read_source, source_deal_counts, uncounted_warnings
from crmsync.service.snapshot import Keeper
from crmsync.store.repository import Owned
from crmsync.store.snapshot import SnapshotStore

Combined = tuple[dict[tuple[CompanyId, FeatureId], DesiredOverride], tuple[Pending, ...]]  # combine()'s answer
Reader = Callable[[Source, Sequence[PageSink]], ReadResult]  # reads one source's deals into the sinks


def build_plan(ctx: Context, mappings: Mappings, *, scope: Collection[CompanyId] | None = None) -> PlanRun:
    """Compute what an apply would do. Reads only."""
    return build_plans(ctx, mappings, scope=scope).head


@dataclass(frozen=True)
class PlanRuns:
    """The plan of the mappings in force (`head`) and, for `plan --base`, of the base mappings, computed
    from the same deals and live overrides (read once)."""

    head: PlanRun
    base: PlanRun | None = None


@dataclass(frozen=True)
class _Seen:
    """What one reconcile read of Schematic and the ledger, shared by the plans of every mapping set."""

    companies: list[Company]
    features: list[Feature]
    live: list[LiveOverride]
    owned: list[Owned]
    released: list[Owned]
    baseline: Mapping[str, int]
    now: datetime


def build_plans(
    ctx: Context,
    mappings: Mappings,
    *,
    scope: Collection[CompanyId] | None = None,
    base: Mappings | None = None,
    reader: Reader | None = None,
) -> PlanRuns:
    """The plan of `mappings` and, given `base`, the plan of the base mappings from the same read of the
    deals and live overrides. Deals come from the CRMs (and keep the deal snapshot current), or from
    `reader` (the preview's snapshot). Writes nothing to Schematic."""
    features = ctx.schematic.features()  # held for [schematic] metadata_max_age
    companies = ctx.schematic.list_companies(scope)
    progress.emit(progress.Planning("reading", len(companies)))
    # Every online check validate runs, before anything is read or written (preflight.py).
    every = companies if scope is None else None
    sets = [mappings] if base is None else [mappings, base]
    try:
        checked = [preflight(ctx.schematic, ctx.connectors, m, features=features, companies=every) for m in sets]
    except MappingError:
        if not ctx.schematic.metadata.forget():  # the features were read just now: the mapping is wrong
            raise
        features = ctx.schematic.list_features()  # held ones may predate a feature the mapping names
        checked = [preflight(ctx.schematic, ctx.connectors, m, features=features, companies=every) for m in sets]
    now = ctx.clock()
    # Deals are translated page by page as they are read; a file both mapping sets hold is translated once.
    files: list[MappingFile] = []
    picks = [[_index(files, f) for f in c.mappings.files] for c in checked]
    # One mapping set's full read is combined as it is translated (no contribution outlives its page);
    # a scoped run keeps its contributions, to be traced back deal by deal (`explain`), and two sets
    # (`plan --base`) combine each its own.
    key_map = {CompanyKey(k, v): c.id for c in companies for k, v in c.keys.items()}
    combiner = Combiner(key_map) if scope is None and base is None else None
    resolved = {k: v for c in checked for k, v in c.resolved.items()}
    translator = Translator(files, resolved, now, sink=combiner.add if combiner else None)
    joined = Mappings(tuple(files))
    feed: list[PageSink] = [translator.add]
    scoped = companies if scope is not None else None
    keeper = None
    if reader is None and not ctx.store.readonly:  # every read from a CRM keeps the snapshot current
        keeper = Keeper(SnapshotStore(ctx.store.engine, ctx.store.url), joined, scoped, now)
        feed.append(keeper.page)
    # A scoped run (serve's, for a few companies) reads their live overrides beside the deals: on the
    # path of one webhook that is a round trip less. A full run reads them after, not holding both.
    with ThreadPoolExecutor(1, thread_name_prefix="crmsync-live") as side:
        live_read = side.submit(ctx.schematic.list_overrides, scope) if scope is not None else None
        reads = tuple(
            reader(source, feed) if reader is not None else read_source(ctx.connectors, joined, source, scoped, feed)
            for source in joined.sources()
        )
        early = live_read.result() if live_read is not None else None
    if keeper is not None:
        keeper.finish(reads)
    translations = [translator.result(p) for p in picks]
    combined = combiner.result() if combiner is not None else None
    del translator, feed, keeper, combiner  # they hold every contribution of a scoped run too
    live = early if early is not None else ctx.schematic.list_overrides(scope)
    # the notes crmsync wrote are `crmsync owned`'s; a plan compares values, ids and tokens only
    owned, released = ctx.store.owned(notes=False), ctx.store.released(notes=False)
    baseline = ctx.store.source_counts()
    seen = _Seen(list(companies), list(features), list(live), list(owned), list(released), baseline, now)
    cache: dict[str, PlanEntitlements] = {}
    runs = [
        _plan_from(ctx, c, t, reads, seen, scope, cache, combined) for c, t in zip(checked, translations, strict=True)
    ]
    progress.emit(progress.Planning("planned", len(companies)))
    return PlanRuns(runs[0], runs[1] if len(runs) > 1 else None)


def _plan_from(
    ctx: Context,
    checked: Checked,
    translation: Translation,
    reads: tuple[ReadResult, ...],
    seen: _Seen,
    scope: Collection[CompanyId] | None,
    cache: dict[str, PlanEntitlements],
    combined: Combined | None = None,
) -> PlanRun:
    """One mapping set's plan from the deals it translated and what the run read of Schematic and the
    ledger; `combined`: its desired overrides, when the read combined them as it went (one set, full run)."""
    mappings, companies, features, live, now = checked.mappings, seen.companies, seen.features, seen.live, seen.now
    if combined is not None:
        desired, pending = combined
    else:
        key_map = {CompanyKey(k, v): c.id for c in companies for k, v in c.keys.items()}
        desired, pending = combine(translation.contributions, key_map)
    if scope is None:  # only a scoped run is traced back deal by deal (`explain`): let the rest go now
        translation = replace(translation, contributions=(), skipped=(), deals={})
    owned, settled = settle_updates(seen.owned, live)  # updates whose answer was lost: did they happen?
    found = find_lost_creates(owned, live)
    unknown = unknown_markers(ctx.store, live, (*owned, *seen.released))  # a lost or wrong ledger is said loudly
    # A partial read (cut short) deletes and downgrades nothing its source drives.
    cut_short = {r.source.value: f"{r.source.value} read was partial ({r.problem})" for r in reads if not r.complete}
    keep = {o.override_id for o in owned if o.override_id and any(s in cut_short for s in o.sources)}
    held = held_keys(seen.released, owned)
    ids = owned_ids_of(owned, found)
    own = reconcile_ownership(
        desired, live, owned, ids, held, RulePolicies.of(mappings), scope=scope, keep=keep, now=now
    )
    # A scoped read says nothing about how many deals a CRM holds: only full reads feed the guard.
    counts = source_deal_counts(reads) if scope is None else {}
    shrunk = shrunk_sources(counts, seen.baseline, ctx.guards)
    sources = {o.override_id: o.sources for o in owned if o.override_id}
    result, withheld = withhold_deletes(own.result, sources, shrunk, partial=cut_short)
    result, drift = settle(result, own.drift, held)
    result, adoptions = hide_marked(result, own.adoptions, unknown)
    result, let_go = split_released(result, seen.released)
    warnings = ledger_warnings(ctx.store, unknown) + withheld + checked.warnings + uncounted_warnings(reads, mappings)
    names: dict[str, str] = {c.id: c.name for c in companies} | {f.id: f.name for f in features}
    changed = {c.company_id for c in result.changes}
    plans, unread = read_plans(ctx.schematic, [c for c in companies if c.id in changed], cache)
    warnings += plan_warnings(result.changes, companies, names, plans, unread)
    plan = Plan.build(
        result,
        pending=pending,
        problems=translation.problems,
        warnings=warnings,
        names=names,
        drift=drift,
        adoptions=adoptions,
        released=let_go,
        expired=newly_expired(desired.keys(), live, ids, now, ctx.store.last_judged()),
    )
    plan = replace(plan, effects=change_effects(plan.changes, plans, now))
    return PlanRun(
        plan,
        reads,
        translation,
        tuple(live),
        tuple(owned),
        found,
        tuple(companies),
        tuple(features),
        frozenset(scope) if scope is not None else None,
        tuple(seen.released),
        seen.baseline,
        settled,
        now,
    )


def _index(files: list[MappingFile], mfile: MappingFile) -> int:
    """The index of `mfile` in `files`, appended when no equal file is there yet."""
    for i, held in enumerate(files):
        if held == mfile:
            return i
    files.append(mfile)
    return len(files) - 1


def split_released(result: DiffResult, released: Collection[Owned]) -> tuple[DiffResult, tuple[Conflict, ...]]:
    """An override a person released (`crmsync release`) is not managed, not a conflict: it is said
    once as released, not every run as "not created by crmsync"."""
    gone = {r.override_id for r in released if r.override_id}
    let_go = tuple(c for c in result.conflicts if c.live.id in gone)
    kept = tuple(c for c in result.conflicts if c.live.id not in gone)
    return replace(result, conflicts=kept), let_go


def settle_updates(
    owned: Sequence[Owned], live: Collection[LiveOverride]
) -> tuple[list[Owned], dict[OverrideId, Mapping[str, object] | None]]:
    """Updates whose answer was lost, settled by what Schematic holds now: the override shows the value
    the update wrote (it went through: that is now the last applied value), or the value before it (it
    did not), else it stays pending (a hand edit since: drift is judged against the last applied
    value). Returns the rows as this run should see them and what settled: id → value, or None."""
    waiting = {row.override_id for row in owned if row.pending and row.override_id}  # rare: usually none
    values = {o.id: value_json(o.value) for o in live if o.id in waiting}
    rows: list[Owned] = []
    settled: dict[OverrideId, Mapping[str, object] | None] = {}
    for row in owned:
        ident = row.override_id
        now = values.get(ident) if ident else None
        if row.pending and ident and now is not None:
            if now == dict(row.pending):
                settled[ident] = dict(row.pending)
                row = replace(row, last_applied=dict(row.pending), pending={})
            elif now == dict(row.last_applied):
                settled[ident] = None
                row = replace(row, pending={})
        rows.append(row)
    return rows, settled


def find_lost_creates(owned: Collection[Owned], live: Collection[LiveOverride]) -> dict[str, OverrideId]:
    """Create intents whose override exists after all (its response was lost), by note token."""
    intents = {o.token for o in owned if o.status == LedgerState.INTENT}
    found: dict[str, OverrideId] = {}
    for override in live:
        for note in override.notes:
            token = note_token(note)
            if token in intents:
                found.setdefault(token, override.id)
    return found
