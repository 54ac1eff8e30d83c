"""Queries of the durable intake (`intake_tables.py`; the values in and out in `intake_rows.py`): store
hints, claim them under a lease, queue and claim per-company work, win schedule slots, report the depth.

Called by the webhook endpoints (insert before answering) and the intake worker. Every claim is one
`UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING …` statement: on PostgreSQL
concurrent workers skip each other's rows, on SQLite the statement holds the single write lock, so a
row is never claimed twice. Times are aware UTC datetimes by the database's clock (store/clock.py),
read inside the transaction that judges them: a replica whose clock runs ahead cannot take a live
claim. `now=` exists for tests that move time on purpose.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from crmsync.domain import Trigger
from crmsync.errors import ServiceUnavailable
from crmsync.redaction import scrub_line
from crmsync.store.clock import db_now
from crmsync.store.engine import SERVICE, SETTING, begin, dialect_insert, redact
from crmsync.store.instance import FileIdentity, refuses_writes
from crmsync.store.intake_rows import ALL_COMPANIES as ALL_COMPANIES  # the names callers import from here
from crmsync.store.intake_rows import ClaimedEvent as ClaimedEvent
from crmsync.store.intake_rows import ClaimedWork as ClaimedWork
from crmsync.store.intake_rows import Depth as Depth
from crmsync.store.intake_rows import Finished as Finished
from crmsync.store.intake_rows import NewEvent as NewEvent
from crmsync.store.intake_rows import stored_trigger as stored_trigger
from crmsync.store.intake_rows import utcnow as utcnow
from crmsync.store.intake_tables import CompanyWork, IntakeEvent, ScheduleSlot
from crmsync.store.tables import OwnedOverride

EVENTS = IntakeEvent.__table__  # type: ignore[attr-defined]
WORK = CompanyWork.__table__  # type: ignore[attr-defined]
SLOTS = ScheduleSlot.__table__  # type: ignore[attr-defined]


class IntakeStore:
    """The intake queries over an engine (the `Store`'s); creates its tables when missing."""

    def __init__(self, engine: Engine, url: str = "") -> None:
        self.engine = engine
        self.url = url or engine.url.render_as_string(hide_password=True)
        with self._begin() as conn:
            SQLModel.metadata.create_all(conn, tables=[EVENTS, WORK, SLOTS])
        self.identity = FileIdentity.of(engine)  # after create_all: the file exists now

    def verify(self) -> None:
        """ServiceUnavailable unless the SQLite file is still the one opened, and writable (an event
        written into a deleted file would be acknowledged, then lost)."""
        problem = self.identity.problem() if self.identity is not None else None
        if problem:
            raise ServiceUnavailable(SERVICE, problem, setting=SETTING)

    def _begin(self) -> AbstractContextManager[Connection]:
        return begin(self.engine, self.url)

    def _insert(self, table: Any) -> Any:
        return dialect_insert(self.engine, table)

    def now(self) -> datetime:
        """Now by the database's clock (store/clock.py): what every replica sharing it agrees on."""
        with self._begin() as conn:
            return db_now(conn)

    def ping(self) -> None:
        """ServiceUnavailable unless the database answers and takes writes (store/instance.py)."""
        self.verify()
        with self._begin() as conn:
            if why := refuses_writes(conn):
                raise ServiceUnavailable(SERVICE, f"{redact(self.url)} {why}", setting=SETTING)

    # --- intake events ---------------------------------------------------------------------------
    def add_events(self, events: Sequence[NewEvent], now: datetime | None = None) -> int:
        """Store hints in one transaction; a dedupe key already present is skipped. Returns how many were new."""
        return self.add_event_groups([events], now)[0]

    def add_event_groups(self, groups: Sequence[Sequence[NewEvent]], now: datetime | None = None) -> list[int]:
        """Store the hints of several requests in one transaction (group commit: web/commit.py); per
        group, how many were new (a dedupe key already stored, or met earlier in the call, is skipped)."""
        self.verify()  # before the write: a 2xx follows it
        keys = [[e.dedupe_key[:200] for e in events] for events in groups]
        with self._begin() as conn:
            now = now or db_now(conn)
            rows: dict[str, dict[str, Any]] = {}  # one row per key: the first group naming it gets it
            for events, named in zip(groups, keys, strict=True):
                for e, key in zip(events, named, strict=True):
                    rows.setdefault(key, {
                        "source": e.source, "kind": e.kind[:48], "object_id": e.object_id[:64],
                        "company_key": e.company_key[:64] if e.company_key else None, "occurred_at": e.occurred_at,
                        "received_at": now, "dedupe_key": key, "state": "pending", "attempts": 0,
                        "not_before": now, "error": "",
                    })  # fmt: skip
            # one compiled statement, its rows sent in batches ("insertmanyvalues"); rowcount is -1 on psycopg
            stmt = self._insert(EVENTS).on_conflict_do_nothing(index_elements=["dedupe_key"])
            inserted = conn.execute(stmt.returning(EVENTS.c.dedupe_key), list(rows.values())) if rows else ()
            new = {str(k) for (k,) in inserted}
        added = []
        for named in keys:
            mine = [k for k in dict.fromkeys(named) if k in new]
            new.difference_update(mine)  # a key two groups name counts for the first
            added.append(len(mine))
        return added

    def claim_events(self, worker: str, limit: int, lease: float, now: datetime | None = None) -> list[ClaimedEvent]:
        """Take up to `limit` pending events (and expired claims) under a lease of `lease` seconds."""
        with self._begin() as conn:
            rows = conn.execute(self._claim_events(worker, limit, lease, now or db_now(conn))).all()
        return sorted((ClaimedEvent(*row) for row in rows), key=lambda e: e.id)

    def _claim_events(self, worker: str, limit: int, lease: float, now: datetime) -> Any:
        ready = or_(
            and_(EVENTS.c.state == "pending", EVENTS.c.not_before <= now),
            and_(EVENTS.c.state == "claimed", EVENTS.c.claimed_until < now),
        )
        chosen = select(EVENTS.c.id).where(ready).order_by(EVENTS.c.id).limit(limit).with_for_update(skip_locked=True)
        stmt = (
            update(EVENTS)
            .where(EVENTS.c.id.in_(chosen))
            .values(state="claimed", claimed_by=worker, claimed_until=now + timedelta(seconds=lease),
                    attempts=EVENTS.c.attempts + 1)
            .returning(EVENTS.c.id, EVENTS.c.source, EVENTS.c.kind, EVENTS.c.object_id, EVENTS.c.company_key,
                       EVENTS.c.received_at, EVENTS.c.attempts)
        )  # fmt: skip
        return stmt

    def finish_events(self, ids: Collection[int], worker: str) -> int:
        """The events are resolved (their companies queued): done. Returns how many this worker still held."""
        stmt = update(EVENTS).where(EVENTS.c.id.in_(list(ids)), EVENTS.c.claimed_by == worker)
        with self._begin() as conn:
            return len(conn.execute(stmt.values(state="done", claimed_until=None).returning(EVENTS.c.id)).all())

    def retry_events(
        self,
        ids: Collection[int],
        worker: str,
        error: str,
        delay: float,
        max_attempts: int,
        now: datetime | None = None,
    ) -> None:
        """Resolution failed: pending again after `delay` seconds, or failed after `max_attempts`; `error`
        is stored on one line, secrets masked (it may quote a vendor or a URL)."""
        state = case((EVENTS.c.attempts >= max_attempts, "failed"), else_="pending")
        stmt = update(EVENTS).where(EVENTS.c.id.in_(list(ids)), EVENTS.c.claimed_by == worker)
        with self._begin() as conn:
            now = now or db_now(conn)
            conn.execute(stmt.values(state=state, claimed_until=None, error=scrub_line(error)[:500],
                                     not_before=now + timedelta(seconds=delay)))  # fmt: skip

    # --- company work ----------------------------------------------------------------------------
    def enqueue_companies(
        self, company_ids: Collection[str], trigger: Trigger, first_hint_at: datetime | None = None,
        now: datetime | None = None,
    ) -> None:  # fmt: skip
        """Queue a reconcile of each company: a pending row stays one row, a running one is marked dirty."""
        self.verify()  # POST /reconcile answers 202 after this write
        with self._begin() as conn:
            now = now or db_now(conn)
            hint = first_hint_at or now
            companies = sorted(set(company_ids))
            for n in range(0, len(companies), 500):  # one statement per 500 companies, not one per company
                stmt = self._insert(WORK).values([
                    {"company_id": company, "state": "pending", "dirty": False, "trigger": trigger.value,
                     "first_hint_at": hint, "attempts": 0, "not_before": now, "updated_at": now}
                    for company in companies[n : n + 500]
                ])  # fmt: skip
                running, done = WORK.c.state == "running", WORK.c.state == "done"
                new = stmt.excluded
                stmt = stmt.on_conflict_do_update(
                    index_elements=["company_id"],
                    set_={
                        "state": case((running, "running"), else_="pending"),
                        "dirty": case((running, True), else_=WORK.c.dirty),
                        "dirty_since": case((running, func.coalesce(WORK.c.dirty_since, new.first_hint_at)),
                                            else_=WORK.c.dirty_since),
                        "first_hint_at": case((done, new.first_hint_at),
                                              else_=func.coalesce(WORK.c.first_hint_at, new.first_hint_at)),
                        "trigger": case((done, new.trigger), else_=WORK.c.trigger),
                        "not_before": case((done, new.not_before), else_=WORK.c.not_before),
                        "attempts": case((done, 0), else_=WORK.c.attempts),
                        "updated_at": new.updated_at,
                    },
                )  # fmt: skip
                conn.execute(stmt)

    def claim_companies(self, worker: str, limit: int, lease: float, now: datetime | None = None) -> list[ClaimedWork]:
        """Take up to `limit` pending companies (and expired runs of a crashed worker) under a lease."""
        with self._begin() as conn:
            rows = conn.execute(self._claim_companies(worker, limit, lease, now or db_now(conn))).all()
        work = (ClaimedWork(id_, company, stored_trigger(trigger), hint, n) for id_, company, trigger, hint, n in rows)
        return sorted(work, key=lambda w: w.id)

    def _claim_companies(self, worker: str, limit: int, lease: float, now: datetime) -> Any:
        ready = or_(
            and_(WORK.c.state == "pending", WORK.c.not_before <= now),
            and_(WORK.c.state == "running", WORK.c.claimed_until < now),
        )
        chosen = select(WORK.c.id).where(ready).order_by(WORK.c.id).limit(limit).with_for_update(skip_locked=True)
        stmt = (
            update(WORK)
            .where(WORK.c.id.in_(chosen))
            .values(state="running", claimed_by=worker, claimed_until=now + timedelta(seconds=lease),
                    attempts=WORK.c.attempts + 1, updated_at=now)
            .returning(WORK.c.id, WORK.c.company_id, WORK.c.trigger, WORK.c.first_hint_at, WORK.c.attempts)
        )  # fmt: skip
        return stmt

    def renew(self, work_ids: Collection[int], worker: str, lease: float, now: datetime | None = None) -> int:
        """Extend this worker's leases on running companies; returns how many it still holds."""
        stmt = update(WORK).where(WORK.c.id.in_(list(work_ids)), WORK.c.claimed_by == worker, WORK.c.state == "running")
        with self._begin() as conn:
            until = (now or db_now(conn)) + timedelta(seconds=lease)
            return len(conn.execute(stmt.values(claimed_until=until).returning(WORK.c.id)).all())

    def finish_company(
        self, work_id: int, worker: str, *, ok: bool, retry_delay: float = 0.0, now: datetime | None = None
    ) -> None:
        """End a run: done (or pending again when dirtied meanwhile); a failed run is pending after a delay."""
        self.finish_companies([Finished(work_id, ok, retry_delay)], worker, now=now)

    def finish_companies(self, finished: Sequence[Finished], worker: str, now: datetime | None = None) -> None:
        """End many runs in one transaction, each as `finish_company` would: one UPDATE per outcome and
        delay, not one transaction per company (a burst of webhooks finishes thousands)."""
        groups: dict[tuple[bool, float], list[int]] = {}
        for f in finished:
            groups.setdefault((f.ok, 0.0 if f.ok else f.retry_delay), []).append(f.work_id)
        if not groups:
            return
        with self._begin() as conn:
            now = now or db_now(conn)
            for (ok, delay), ids in groups.items():
                conn.execute(self._finish(ids, worker, ok, delay, now))

    def _finish(self, work_ids: list[int], worker: str, ok: bool, retry_delay: float, now: datetime) -> Any:
        mine = update(WORK).where(WORK.c.id.in_(work_ids), WORK.c.claimed_by == worker, WORK.c.state == "running")
        if ok:
            values: dict[str, Any] = {
                "state": case((WORK.c.dirty, "pending"), else_="done"),
                "first_hint_at": case((WORK.c.dirty, WORK.c.dirty_since), else_=None),
                "attempts": 0,
                "not_before": now,
            }
        else:
            values = {"state": "pending", "not_before": now + timedelta(seconds=retry_delay)}
        values |= {"dirty": False, "dirty_since": None, "claimed_by": None, "claimed_until": None, "updated_at": now}
        if not ok:  # a failed run still owes the hints that arrived during it
            values["first_hint_at"] = func.coalesce(WORK.c.first_hint_at, WORK.c.dirty_since)
        return mine.values(values)

    # --- schedule slots, depth, ledger -----------------------------------------------------------
    def win_slot(self, job_name: str, slot_start: datetime, runner: str, now: datetime | None = None) -> bool:
        """True for exactly one caller per (job, slot) across every replica sharing the database."""
        with self._begin() as conn:
            claimed_at = now or db_now(conn)
            row = {"job_name": job_name, "slot_start": slot_start, "runner": runner[:64], "claimed_at": claimed_at}
            stmt = self._insert(SLOTS).values(row).on_conflict_do_nothing()
            return len(conn.execute(stmt.returning(SLOTS.c.job_name)).all()) == 1

    def prune(self, before: datetime) -> int:
        """Delete finished hints and schedule slots older than `before` (keep hints as long as senders retry:
        their dedupe keys must outlive every redelivery). Returns how many rows went."""
        with self._begin() as conn:
            done = EVENTS.c.state.in_(("done", "failed")) & (EVENTS.c.received_at < before)
            gone = conn.execute(EVENTS.delete().where(done).returning(EVENTS.c.id)).all()
            slots = conn.execute(SLOTS.delete().where(SLOTS.c.slot_start < before).returning(SLOTS.c.job_name)).all()
        return len(gone) + len(slots)

    def depth(self) -> Depth:
        """Events and companies not yet done, and the arrival of the oldest."""
        with self._begin() as conn:
            events, oldest_event = conn.execute(
                select(func.count(), func.min(EVENTS.c.received_at)).where(EVENTS.c.state.in_(("pending", "claimed")))
            ).one()
            work, oldest_work = conn.execute(
                select(func.count(), func.min(WORK.c.first_hint_at)).where(WORK.c.state.in_(("pending", "running")))
            ).one()
        oldest = min((t for t in (oldest_event, oldest_work) if t is not None), default=None)
        return Depth(int(events), int(work), oldest)

    def ledger_notes(self, mentioning: Collection[str] | None = None) -> list[tuple[str, str]]:
        """(company id, note) of the overrides crmsync manages: how a deleted deal's companies are found.
        `mentioning`: only notes containing one of these deal ids (a cheap filter in the database, the
        caller reads the notes exactly), so a batch of hints costs its deals, not the whole ledger."""
        table = OwnedOverride.__table__  # type: ignore[attr-defined]
        managed = table.c.status.in_(("active", "intent"))
        if mentioning is None:
            queries = [select(table.c.company_id, table.c.note).where(managed)]
        else:
            ids = sorted({i for i in mentioning if i})
            queries = [
                select(table.c.company_id, table.c.note).where(
                    managed, or_(*(table.c.note.contains(i, autoescape=True) for i in ids[n : n + 100]))
                )
                for n in range(0, len(ids), 100)
            ]
        with self._begin() as conn:
            return [(str(c), str(n or "")) for query in queries for c, n in conn.execute(query).all()]
