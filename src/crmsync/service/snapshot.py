"""The deal snapshot kept current by every reconcile that reads deals, and read back by the preview.

`Keeper` is a page sink `planning.build_plans` adds to each read (full and scoped, so serve's polls and
webhooks keep it fresh with no code of their own): it compares each deal's digest with the one held
and keeps only the deals that changed, then writes them in one transaction per source. `covers` says
whether the snapshot holds what some mappings need; `snapshot_reader` feeds its deals to a plan.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crmsync.connectors.base import PageSink, ReadResult
from crmsync.domain import Company, Deal, Source
from crmsync.errors import CrmsyncError
from crmsync.logs import get_logger
from crmsync.mapping.rules import DealFilter, Mappings
from crmsync.store.snapshot import SnapshotRow, SnapshotSource, SnapshotStore, encode

log = get_logger("crmsync.snapshot")
FLUSH = 5000  # changed deals held before they are written


def query_of(mappings: Mappings, source: Source) -> dict[str, Any]:
    """What a read of `source` under `mappings` covers: its filters and properties, as JSON."""
    filters = sorted({_filter_json(f.deals) for f in mappings.for_source(source)})
    return {"filters": [list(f) for f in filters], "properties": list(mappings.properties_for(source))}


def _filter_json(f: DealFilter) -> tuple[str, str, str]:
    """A filter as comparable text, names folded (the CRMs compare them without regard to case)."""
    return (_fold(f.stages), _fold(f.pipelines), _fold(f.record_types))


def _fold(names: tuple[str, ...] | None) -> str:
    return ",".join(sorted({n.casefold() for n in names})) if names is not None else "*"


def digest(deal: Deal) -> int:
    """A cheap fingerprint of everything a deal holds (a changed deal gets another one, but for a 1 in
    4 billion chance): its content joined and CRC-32'd, with the length in the high bits."""
    props = deal.properties
    raw = "\x1f".join((deal.company_ref or "", deal.stage, deal.pipeline or "", str(deal.close_date),
                       str(deal.modified_at), deal.name or "", *props, *[v or "" for v in props.values()]))  # fmt: skip
    data = raw.encode()
    return (len(data) << 32) | zlib.crc32(data)


class Keeper:
    """Keeps the snapshot current from one reconcile's reads: only changed deals are written."""

    def __init__(
        self, store: SnapshotStore, mappings: Mappings, companies: Collection[Company] | None, now: datetime
    ) -> None:
        self._store = store
        self._now = now
        self._mappings = mappings
        self._scoped = companies is not None
        self._refs: dict[Source, set[str]] = {}
        for source in mappings.sources():
            keys = {f.company_key for f in mappings.for_source(source)}
            self._refs[source] = {c.keys[k] for c in companies or () for k in keys if k in c.keys}
        # deal id → digest of the held deals not seen yet in this read: what is left at the end is gone
        self._held: dict[Source, dict[str, int]] = {}
        self._changed: dict[Source, list[SnapshotRow]] = {}
        self._broken = False  # a database failure: the snapshot is left as it was (not trusted) this run

    def page(self, deals: Sequence[Deal]) -> None:
        """A page sink: compare each deal with the snapshot and keep the ones that changed. A database
        failure stops the upkeep for this run (logged), never the reconcile."""
        if self._broken:
            return
        try:
            self._page(deals)
        except CrmsyncError as exc:
            self._broken = True
            log.warning("snapshot.not_updated", reason=str(exc))

    def _page(self, deals: Sequence[Deal]) -> None:
        for deal in deals:
            source = deal.source
            held = self._held.get(source)
            if held is None:
                held = self._load(source)
            value = digest(deal)
            if held.pop(deal.id, None) != value:
                changed = self._changed[source]
                changed.append(SnapshotRow(deal.id, deal.company_ref, value, encode(deal)))
                if len(changed) >= FLUSH:  # a first read of a large CRM is not held whole in memory
                    self._flush(source)

    def _flush(self, source: Source) -> None:
        if self._changed[source]:
            self._store.upsert(source, self._changed[source], self._now)
            self._changed[source] = []

    def _load(self, source: Source) -> dict[str, int]:
        held = self._store.digests(source, self._refs.get(source, set()) if self._scoped else None)
        self._held[source], self._changed[source] = held, []
        return held

    def finish(self, reads: Sequence[ReadResult]) -> None:
        """Write what the reads changed, one transaction per source; a failure is logged, never raised
        (the snapshot only speeds previews up: a reconcile must not fail for it)."""
        try:
            if self._broken:
                return
            known = self._store.sources()
            for read in reads:
                self._finish(read, known.get(read.source), self._now)
        except CrmsyncError as exc:
            log.warning("snapshot.not_updated", reason=str(exc))
        finally:
            self._held.clear()
            self._changed.clear()

    def _finish(self, read: ReadResult, known: SnapshotSource | None, now: datetime) -> None:
        source = read.source
        if source not in self._held:
            self._load(source)  # a read that gave no deal still says the held ones are gone
        unseen = set(self._held[source])
        query = query_of(self._mappings, source)
        same = known is not None and dict(known.query) == query
        gone: set[str]
        full: bool | None
        if not read.complete:
            gone, full = set(read.deleted_ids), None
        elif self._scoped:
            gone, full = unseen | set(read.deleted_ids), (False if same else None)
        else:
            gone, full = unseen, True
        self._flush(source)
        self._store.finish(source, gone, query, now, full=full)


@dataclass(frozen=True)
class Coverage:
    """Whether the snapshot holds what some mappings need, and how old it is per CRM."""

    ok: bool
    reasons: tuple[str, ...]  # why not, one per CRM
    sources: Mapping[Source, SnapshotSource]


def covers(store: SnapshotStore, mappings: Mappings) -> Coverage:
    """Whether every CRM `mappings` read was fully read into the snapshot with at least their filters
    and properties (a preview may then read the snapshot instead of the CRM)."""
    held = store.sources()
    reasons = []
    for source in mappings.sources():
        known = held.get(source)
        need = query_of(mappings, source)
        if known is None or known.full_read_at is None:
            reasons.append(f"{source.value}: no complete read in the deal snapshot yet")
            continue
        have_filters = {tuple(f) for f in known.query.get("filters", [])}
        missing = [p for p in need["properties"] if p not in set(known.query.get("properties", []))]
        if not {tuple(f) for f in need["filters"]} <= have_filters or missing:
            what = f"properties {', '.join(missing)}" if missing else "other stages or pipelines"
            reasons.append(f"{source.value}: the deal snapshot does not hold {what}")
    return Coverage(not reasons, tuple(reasons), held)


def feed(store: SnapshotStore, source: Source, sinks: Sequence[PageSink]) -> ReadResult:
    """Hand every deal the snapshot holds for `source` to the sinks, as a read would."""
    count, stages = 0, set[tuple[str, str | None]]()
    for page in store.deals(source):
        for sink in sinks:
            sink(page)
        count += len(page)
        stages.update((d.stage, d.pipeline) for d in page)
    return ReadResult(source, (), streamed=count, stages=frozenset(stages))
