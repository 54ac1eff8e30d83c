"""Queries of the deal snapshot (`snapshot_tables.py`): the digests a read compares with, the rows that
changed written in batches, the deals read back for a preview, and what the snapshot holds per CRM.

Called by service/snapshot.py (upkeep during every reconcile that reads deals, and the preview's
read). Plain SQLAlchemy Core statements, not ORM objects: a full read of 50,000 deals that changed
nothing costs one SELECT of digests and no write but the source's row.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select
from sqlalchemy.engine import Engine

from crmsync.domain import Deal, DealId, Source
from crmsync.store.clock import as_utc
from crmsync.store.engine import begin, dialect_insert
from crmsync.store.snapshot_tables import DealSnapshot, DealSnapshotSource

DEALS = DealSnapshot.__table__  # type: ignore[attr-defined]
SOURCES = DealSnapshotSource.__table__  # type: ignore[attr-defined]
BATCH = 1000  # rows per statement: well under SQLite's 32,766 bound parameters


@dataclass(frozen=True)
class SnapshotSource:
    """What the snapshot holds of one CRM: the query it was read with, and when it was last read."""

    source: Source
    query: Mapping[str, Any]
    full_read_at: datetime | None  # None: not to be trusted (read since with another query)
    updated_at: datetime


@dataclass(frozen=True)
class SnapshotRow:
    """A deal to write: its digest and body."""

    deal_id: str
    company_ref: str | None
    digest: int
    body: str


class SnapshotStore:
    """The snapshot's queries over an engine (the `Store`'s)."""

    def __init__(self, engine: Engine, url: str = "") -> None:
        self.engine = engine
        self.url = url or engine.url.render_as_string(hide_password=True)

    def _begin(self) -> AbstractContextManager[Connection]:
        return begin(self.engine, self.url)

    def _insert(self, table: Any) -> Any:
        return dialect_insert(self.engine, table)

    def digests(self, source: Source, company_refs: Collection[str] | None = None) -> dict[str, int]:
        """deal id → digest of the deals held for `source` (only those of `company_refs`, when given)."""
        found: dict[str, int] = {}
        with self._begin() as conn:
            if company_refs is None:
                stmt = select(DEALS.c.deal_id, DEALS.c.digest).where(DEALS.c.source == source.value)
                found.update((r[0], r[1]) for r in conn.execute(stmt))
                return found
            refs = sorted(company_refs)
            for i in range(0, len(refs), BATCH):
                stmt = select(DEALS.c.deal_id, DEALS.c.digest).where(
                    DEALS.c.source == source.value, DEALS.c.company_ref.in_(refs[i : i + BATCH])
                )
                found.update((r[0], r[1]) for r in conn.execute(stmt))
        return found

    def upsert(self, source: Source, rows: Sequence[SnapshotRow], now: datetime) -> None:
        """Write deals that changed, in one transaction: one statement compiled once, executed for many
        rows (a multi-row VALUES would be compiled again for every batch)."""
        if not rows:
            return
        stmt = self._insert(DEALS)
        stmt = stmt.on_conflict_do_update(
            index_elements=["source", "deal_id"],
            set_={
                "company_ref": stmt.excluded.company_ref,
                "digest": stmt.excluded.digest,
                "body": stmt.excluded.body,
                "seen_at": stmt.excluded.seen_at,
            },
        )
        with self._begin() as conn:
            for i in range(0, len(rows), BATCH):
                values = [
                    {"source": source.value, "deal_id": r.deal_id, "company_ref": r.company_ref, "digest": r.digest,
                     "body": r.body, "seen_at": now}
                    for r in rows[i : i + BATCH]
                ]  # fmt: skip
                conn.execute(stmt, values)

    def finish(
        self, source: Source, gone: Collection[str], query: Mapping[str, Any], now: datetime, *, full: bool | None
    ) -> None:
        """In one transaction: delete `gone` and record the read. `full`: True for a complete full read
        (the snapshot is whole as of `now`), False for a read of some companies with the same query,
        None for one with another query or cut short (not trusted until the next full read)."""
        text = json.dumps(query, sort_keys=True)
        with self._begin() as conn:
            ids = sorted(gone)
            for i in range(0, len(ids), BATCH):
                chunk = ids[i : i + BATCH]
                conn.execute(delete(DEALS).where(DEALS.c.source == source.value, DEALS.c.deal_id.in_(chunk)))
            held = conn.execute(select(SOURCES.c.full_read_at).where(SOURCES.c.source == source.value)).first()
            full_at = now if full else None if full is None or held is None else held[0]
            stmt = self._insert(SOURCES).values(
                source=source.value, query_json=text, full_read_at=full_at, updated_at=now
            )
            conn.execute(stmt.on_conflict_do_update(
                index_elements=["source"],
                set_={"query_json": stmt.excluded.query_json, "full_read_at": stmt.excluded.full_read_at,
                      "updated_at": stmt.excluded.updated_at},
            ))  # fmt: skip

    def sources(self) -> dict[Source, SnapshotSource]:
        """What the snapshot holds of each CRM it has read."""
        with self._begin() as conn:
            rows = conn.execute(select(SOURCES)).all()
        return {
            Source(r.source): SnapshotSource(
                Source(r.source), json.loads(r.query_json), _aware(r.full_read_at), _aware(r.updated_at) or datetime.min
            )
            for r in rows
            if r.source in {s.value for s in Source}
        }

    def deals(self, source: Source, page: int = 2000) -> Iterator[list[Deal]]:
        """The deals held for `source`, a page at a time (keyset by deal id: no long-held cursor)."""
        after = ""
        while True:
            with self._begin() as conn:
                stmt = (
                    select(DEALS.c.deal_id, DEALS.c.body)
                    .where(DEALS.c.source == source.value, DEALS.c.deal_id > after)
                    .order_by(DEALS.c.deal_id)
                    .limit(page)
                )
                rows = conn.execute(stmt).all()
            if not rows:
                return
            yield decode_page(source, [(r.deal_id, r.body) for r in rows])
            after = rows[-1].deal_id


def _aware(value: datetime | None) -> datetime | None:
    """A stored datetime, or None, as an aware UTC one."""
    return None if value is None else as_utc(value)


def encode(deal: Deal) -> str:
    """A deal's body as JSON (the source and id are the row's key)."""
    return json.dumps(
        [deal.company_ref, deal.stage, deal.pipeline, _time(deal.close_date), _time(deal.modified_at), deal.name,
         dict(deal.properties)],
        separators=(",", ":"),
    )  # fmt: skip


def decode(source: Source, deal_id: str, body: str) -> Deal:
    """The inverse of `encode`."""
    return decode_page(source, [(deal_id, body)])[0]


def decode_page(source: Source, rows: Sequence[tuple[str, str]]) -> list[Deal]:
    """Many deals at once: their bodies are parsed as one JSON array (one parser call per page, not per
    deal: at 50,000 deals the per-call cost was most of the preview's read)."""
    bodies = json.loads("[" + ",".join(body for _, body in rows) + "]")
    return [
        Deal(source, DealId(i), company, stage, pipeline, _parse(close), _parse(modified), props, name)
        for (i, _), (company, stage, pipeline, close, modified, name, props) in zip(rows, bodies, strict=True)
    ]


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
