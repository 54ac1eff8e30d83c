"""Reading a reconcile's deals: each source read once, each page handed to every sink as it arrives.

Called by `planning.build_plans`: a page goes to the translator of each mapping set (the head, and the
base of `plan --base`) and to any other sink (the deal snapshot), and is then dropped. The read
itself is the connector's (a full read, or the deals of some companies); a CRM's refusal of a
field a rule uses becomes a located mapping problem here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace

from crmsync.connectors.base import Connector, DealQuery, PageSink, ReadResult
from crmsync.domain import Company, Deal, Source
from crmsync.errors import ConfigError, MappingError, Problem, RequestRejected
from crmsync.mapping.rules import Mappings
from crmsync.mapping.translate import stage_counts
from crmsync.reconcile.notices import PlanWarning, WarningKind


def read_source(
    connectors: Mapping[Source, Connector],
    mappings: Mappings,
    source: Source,
    companies: Collection[Company] | None,
    sinks: Sequence[PageSink],
) -> ReadResult:
    """All deals of a source, or (scoped) those of the CRM companies behind `companies`' keys, each page
    handed to every sink and dropped; the result keeps how many deals and which stages were read.
    `mappings`: every file whose filters and properties the read must cover (several sets joined)."""
    connector = connectors.get(source)
    if connector is None:
        raise ConfigError(f"mapping files read {source.value}, but no {source.value} connector is configured")
    query = DealQuery(
        filters=tuple(f.deals for f in mappings.for_source(source)),
        properties=mappings.properties_for(source),
    )
    tally = _Tally(sinks)
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
    """A read's page sink: hands each page to every sink and counts what the plan says of the read."""

    def __init__(self, sinks: Sequence[PageSink]) -> None:
        self._sinks = sinks
        self.count = 0
        self.stages: set[tuple[str, str | None]] = set()

    def page(self, deals: Sequence[Deal]) -> None:
        for sink in self._sinks:
            sink(deals)
        self.count += len(deals)
        self.stages.update((d.stage, d.pipeline) for d in deals)


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
