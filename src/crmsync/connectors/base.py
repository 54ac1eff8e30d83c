"""The Connector Protocol every CRM module implements, and what a read returns.

The service calls `read_deals` with the deal filter and properties a source's mapping
files need; nothing CRM-specific leaks past the connector modules.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from crmsync.domain import Deal, DealId, Source
from crmsync.mapping.crm_schema import CrmSchema
from crmsync.mapping.rules import DealFilter


@dataclass(frozen=True)
class DealQuery:
    """What to read: the union of the deal filters of one source's mapping files."""

    filters: tuple[DealFilter, ...]
    properties: tuple[str, ...]


PageSink = Callable[[Sequence[Deal]], None]
"""Takes a read's deals a page at a time (a streamed read: the connector keeps none of them)."""


@dataclass(frozen=True)
class ReadResult:
    """The deals of one read. `complete` is False when the read stopped early (rate limit,
    error): then the deals are only a part, and nothing may be deleted on their strength.

    A streamed read (a `PageSink` was given) hands its deals over page by page and keeps none:
    `deals` is empty, `streamed` says how many were handed over and `stages` which distinct
    (stage, pipeline or record type) they were in (for the "none counted" warning)."""

    source: Source
    deals: tuple[Deal, ...]
    complete: bool = True
    deleted_ids: frozenset[DealId] = field(default_factory=frozenset)
    problem: str = ""  # why the read is partial, for the report
    requests: int = 0  # API calls made, for reports and benchmarks
    streamed: int = 0
    stages: frozenset[tuple[str, str | None]] = frozenset()

    @property
    def count(self) -> int:
        """How many deals the read returned (kept or handed over)."""
        return len(self.deals) + self.streamed

    def stage_pairs(self) -> frozenset[tuple[str, str | None]]:
        """The distinct (stage, pipeline or record type) of the deals read."""
        return self.stages | {(d.stage, d.pipeline) for d in self.deals}


@dataclass(frozen=True)
class Changes:
    """The deals changed since a poll's cursor (any stage: a deal that left a won stage matters too),
    and the cursor to store once they are queued. A payload-free hint: the deals are read again later."""

    source: Source
    deal_ids: tuple[DealId, ...]
    cursor: str | None  # opaque to the caller; None: nothing to store yet
    requests: int = 0
    versions: Mapping[DealId, str] = field(default_factory=dict)  # deal → its modification stamp, when known

    def version(self, deal_id: DealId) -> str:
        """What tells this change of a deal from the next one (a later poll re-seeing it is a duplicate)."""
        return self.versions.get(deal_id) or self.cursor or ""


class Connector(Protocol):
    """Reads closed deals from one CRM."""

    source: Source

    def read_deals(self, query: DealQuery, on_page: PageSink | None = None) -> ReadResult:
        """Every deal matching the query, each with its primary company reference; with `on_page`,
        handed over page by page as they are read (and not kept in the result)."""
        ...

    def read_deals_of_companies(
        self, query: DealQuery, company_refs: Collection[str], on_page: PageSink | None = None
    ) -> ReadResult:
        """The matching deals of the given CRM companies only (a scoped reconcile); `on_page` as above."""
        ...

    def deal_schema(self) -> CrmSchema:
        """The CRM's deal fields, pipelines / stages and record types, for the mapping checks
        (fetched once per connector, so once per run)."""
        ...

    def refresh_schema(self) -> None:
        """Forget the deal schema fetched before: the next `deal_schema()` reads it again (a long-running
        serve checks edited mappings against fields added in the CRM since it started)."""
        ...

    def changed_deals(self, cursor: str | None, *, overlap: float) -> Changes:
        """The ids of deals changed after `cursor` (looking `overlap` seconds further back, so a change
        committed late is not missed; duplicates are the caller's to drop). No cursor yet: none, and
        a cursor of now."""
        ...

    def companies_of_deals(self, deal_ids: Collection[str]) -> dict[str, str]:
        """deal id → the CRM company it belongs to now (its primary company; a deleted deal's last one
        where the CRM still tells), read from the CRM for every id at once; unknown ids are left out."""
        ...

    def close(self) -> None:
        """Release the connector's connections (the run's end)."""
        ...
