"""Orchestration of one reconcile: read deals → translate → combine → diff (with adoption and
drift, service/ownership.py) → Plan.

Called by the reconcile use case (service/reconcile.py) and `explain` with a `Context`
of ready edges. It never writes: `apply.py` does. A reconcile can be scoped to some
companies; the pure core never learns what triggered it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace

from crmsync import progress
from crmsync.connectors.base import DealQuery, ReadResult
from crmsync.domain import (
    Company,
    CompanyId,
    CompanyKey,
    Conflict,
    Deal,
    LedgerState,
    LiveOverride,
    OverrideId,
    Source,
)
from crmsync.errors import ConfigError, MappingError, Problem, RequestRejected
from crmsync.mapping.rules import Mappings
from crmsync.mapping.translate import Translator, stage_counts
from crmsync.reconcile.combine import Combiner, combine
from crmsync.reconcile.diff import DiffResult, newly_expired
from crmsync.reconcile.drift import settle
from crmsync.reconcile.guards import shrunk_sources, withhold_deletes
from crmsync.reconcile.note import note_token
from crmsync.reconcile.notices import PlanWarning, WarningKind
from crmsync.reconcile.plan import Plan, value_json
from crmsync.service.context import Context, PlanRun, owned_ids_of
from crmsync.service.entitlements import plan_warnings
from crmsync.service.ledger import hide_marked, ledger_warnings, unknown_markers
from crmsync.service.ownership import RulePolicies, held_keys, reconcile_ownership
from crmsync.service.preflight import preflight
from crmsync.store.repository import Owned


def build_plan(ctx: Context, mappings: Mappings, *, scope: Collection[CompanyId] | None = None) -> PlanRun:
    """Compute what an apply would do. Reads only."""
    features = ctx.schematic.list_features()
    companies = ctx.schematic.list_companies(scope)
    progress.emit(progress.Planning("reading", len(companies)))
    # Every online check validate runs, before anything is read or written (preflight.py).
    every = companies if scope is None else None
    checked = preflight(ctx.schematic, ctx.connectors, mappings, features=features, companies=every)
    mappings, resolved = checked.mappings, dict(checked.resolved)
    now = ctx.clock()
    key_map = {CompanyKey(k, v): c.id for c in companies for k, v in c.keys.items()}
    # Deals are translated page by page as they are read; only what the plan needs of them is kept. A
    # full read is combined as it is translated (no contribution outlives its page); only a scoped run
    # keeps its contributions, to be traced back deal by deal (`explain`).
    combiner = Combiner(key_map) if scope is None else None
    translator = Translator(mappings.files, resolved, now, sink=combiner.add if combiner else None)
    reads = tuple(
        _read(ctx, mappings, source, companies if scope is not None else None, translator)
        for source in mappings.sources()
    )
    translation = translator.result()
    del translator  # it holds every contribution of a scoped run too
    if combiner is not None:
        desired, pending = combiner.result()
        translation = replace(translation, skipped=(), deals={})  # a full run keeps only its problems
    else:
        desired, pending = combine(translation.contributions, key_map)
    live = ctx.schematic.list_overrides(scope)
    # the notes crmsync wrote are `crmsync owned`'s; a plan compares values, ids and tokens only
    owned, released = ctx.store.owned(notes=False), ctx.store.released(notes=False)
    baseline = ctx.store.source_counts()
    owned, settled = settle_updates(owned, live)  # updates whose answer was lost: did they happen?
    found = find_lost_creates(owned, live)
    unknown = unknown_markers(ctx.store, live, (*owned, *released))  # a lost or wrong ledger is said loudly
    # A partial read (cut short) deletes and downgrades nothing its source drives.
    cut_short = {r.source.value: f"{r.source.value} read was partial ({r.problem})" for r in reads if not r.complete}
    keep = {o.override_id for o in owned if o.override_id and any(s in cut_short for s in o.sources)}
    held = held_keys(released, owned)
    ids = owned_ids_of(owned, found)
    own = reconcile_ownership(
        desired, live, owned, ids, held, RulePolicies.of(mappings), scope=scope, keep=keep, now=now
    )
    # A scoped read says nothing about how many deals a CRM holds: only full reads feed the guard.
    counts = source_deal_counts(reads) if scope is None else {}
    shrunk = shrunk_sources(counts, baseline, ctx.guards)
    sources = {o.override_id: o.sources for o in owned if o.override_id}
    result, withheld = withhold_deletes(own.result, sources, shrunk, partial=cut_short)
    result, drift = settle(result, own.drift, held)
    result, adoptions = hide_marked(result, own.adoptions, unknown)
    result, let_go = split_released(result, released)
    warnings = ledger_warnings(ctx.store, unknown) + withheld + checked.warnings + uncounted_warnings(reads, mappings)
    names: dict[str, str] = {c.id: c.name for c in companies} | {f.id: f.name for f in features}
    warnings += plan_warnings(ctx.schematic, result.changes, companies, names)
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
    progress.emit(progress.Planning("planned", len(companies)))
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
        tuple(released),
        baseline,
        settled,
        now,
    )


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


def uncounted_warnings(reads: Collection[ReadResult], mappings: Mappings) -> tuple[PlanWarning, ...]:
    """A CRM whose deals were read but none counted: most likely a stage name the mapping misspells."""
    warnings = []
    for read in reads:
        files = mappings.for_source(read.source)
        pairs = read.stage_pairs()
        if pairs and not any(stage_counts(read.source, s, p, f.deals) for s, p in pairs for f in files):
            stages = sorted({s for s, _ in pairs})[:5]
            warnings.append(
                PlanWarning(
                    WarningKind.NOTHING_COUNTED,
                    f"{read.source.value}: {read.count} deal(s) read but none is in the mapping's stages "
                    f"(their stages: {', '.join(stages)}); check `stages:` (and pipelines / record types)",
                    read.source.value,
                )
            )
    return tuple(warnings)


def source_deal_counts(reads: Collection[ReadResult]) -> dict[str, int]:
    """Deals per source, for the reads that completed (a partial read says nothing)."""
    return {r.source.value: r.count for r in reads if r.complete}


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


def _read(
    ctx: Context, mappings: Mappings, source: Source, companies: Collection[Company] | None, translator: Translator
) -> ReadResult:
    """All deals of a source, or (scoped) those of the CRM companies behind `companies`' keys, each page
    translated as it arrives and dropped; the result keeps how many deals and which stages were read."""
    connector = ctx.connectors.get(source)
    if connector is None:
        raise ConfigError(f"mapping files read {source.value}, but no {source.value} connector is configured")
    query = DealQuery(
        filters=tuple(f.deals for f in mappings.for_source(source)),
        properties=mappings.properties_for(source),
    )
    tally = _Tally(translator)
    try:
        if companies is None:
            read = connector.read_deals(query, tally.page)
        else:
            keys = {f.company_key for f in mappings.for_source(source)}
            refs = {c.keys[k] for c in companies for k in keys if k in c.keys}
            read = connector.read_deals_of_companies(query, refs, tally.page) if refs else ReadResult(source, ())
        return replace(read, streamed=read.streamed + tally.count, stages=read.stages | tally.stages)
    except RequestRejected as exc:
        unknown = getattr(exc, "field", None)  # a connector names the field the CRM refused, when it can
        rules = mappings.rules_using(source, unknown) if unknown else ()
        if not rules:
            raise
        raise MappingError(
            [
                Problem(
                    r.position.path,
                    r.position.line,
                    r.position.col,
                    f"{source.value} refused field {unknown!r} used by this rule: {exc.detail}",
                    "check the field's API name (custom fields end in __c) and the integration user's access",
                )
                for r in rules
            ]
        ) from exc


class _Tally:
    """A read's page sink: translates each page and counts what the plan says of the read."""

    def __init__(self, translator: Translator) -> None:
        self._translator = translator
        self.count = 0
        self.stages: set[tuple[str, str | None]] = set()

    def page(self, deals: Sequence[Deal]) -> None:
        self._translator.add(deals)
        self.count += len(deals)
        self.stages.update((d.stage, d.pipeline) for d in deals)
