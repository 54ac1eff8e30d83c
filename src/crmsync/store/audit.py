"""Actions recorded with their actor in the same transaction as the change (a console user's
release or adopt, the CLI's): `audited()` opens one session that every ledger write inside it
joins, and adds the run record (command, trigger, actor, per-change rows) before the one commit.
Also keeps the companies the last runs read (`save_companies`), which the console searches.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from crmsync.domain import RunStatus
from crmsync.errors import ServiceUnavailable
from crmsync.store.runs import ChangeResult, change_row, holder
from crmsync.store.runs import utc_now as now
from crmsync.store.tables import KnownCompany, RunRecord


@dataclass
class ActionLog:
    """What an audited action did, filled in by the caller inside `audited()`."""

    changes: list[ChangeResult] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    run_id: int = 0  # set when the record is written


class Audit:
    """The shared-session part of `Store` (mixed in)."""

    engine: Engine
    readonly: bool
    _local = threading.local()  # per thread: the session `audited()` opened, if any

    def shared_session(self) -> Session | None:
        """The session of an `audited()` block running in this thread on this store, else None."""
        return getattr(self._local, "sessions", {}).get(id(self))

    @contextmanager
    def audited(self, command: str, trigger: str, actor: str) -> Iterator[ActionLog]:
        """Run the ledger writes of the block in one transaction with the run record saying who did
        it: both are committed together, or neither (an exception rolls both back and propagates)."""
        log = ActionLog()
        sessions: dict[int, Session] = self._local.__dict__.setdefault("sessions", {})
        try:
            with Session(self.engine) as s:
                sessions[id(self)] = s
                try:
                    started = now()
                    yield log
                    run = RunRecord(command=command, trigger=trigger, started_at=started, finished_at=now(),
                                    status=RunStatus.OK, holder=holder(), actor=actor[:128],
                                    summary_json=json.dumps(log.summary, sort_keys=True))  # fmt: skip
                    s.add(run)
                    s.flush()
                    assert run.id is not None
                    for change in log.changes:
                        s.add(change_row(run.id, change))
                    s.commit()
                    log.run_id = run.id
                finally:
                    sessions.pop(id(self), None)
        except SQLAlchemyError as exc:
            raise ServiceUnavailable("state database", str(exc.__class__.__name__),
                                     setting="CRMSYNC_DATABASE_URL") from exc  # fmt: skip

    def save_companies(self, companies: Sequence[tuple[str, str, Mapping[str, str]]], *, every: bool) -> None:
        """Remember the companies a run read (id, name, keys); `every`: these are all of Schematic's,
        so the ones not among them are gone and are forgotten. Rows are upserted, never deleted and
        re-inserted: two runs saving at once (concurrent applies, serve replicas) would otherwise both
        insert the ids the other had just written and one would fail on the primary key."""
        if self.readonly or not companies:
            return
        stamp = now()
        table: Any = KnownCompany.metadata.tables[KnownCompany.__tablename__]
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        rows = [
            {"id": i, "name": n[:256], "keys_json": json.dumps(dict(k), sort_keys=True), "updated_at": stamp}
            for i, n, k in companies
        ]
        stmt = dialect.insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["id"],
            set_={
                "name": stmt.excluded.name,
                "keys_json": stmt.excluded.keys_json,
                "updated_at": stmt.excluded.updated_at,
            },
        )
        try:
            with self.engine.begin() as conn:
                for start in range(0, len(rows), 500):
                    conn.execute(stmt, rows[start : start + 500])
                if every:
                    # Forget what this full read did not see (by id, not by time: a concurrent run's
                    # stamp may be older or newer than this one's).
                    seen = {r["id"] for r in rows}
                    held = [r[0] for r in conn.execute(select(table.c.id))]
                    gone = [i for i in held if i not in seen]
                    for start in range(0, len(gone), 500):
                        conn.execute(delete(table).where(table.c.id.in_(gone[start : start + 500])))
        except SQLAlchemyError as exc:
            raise ServiceUnavailable("state database", type(exc).__name__, setting="CRMSYNC_DATABASE_URL") from exc
