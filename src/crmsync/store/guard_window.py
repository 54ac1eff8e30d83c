"""The mass-change guard's window in the state database: which overrides every run (any process, any
replica) deleted or downgraded lately, and the booking a run makes before it writes.

Called by service/guard_window.py. Overrides are counted once however many runs took them away (a run
killed mid-way and the run that redoes its work book the same pairs). A booking is one transaction that
counts the window and adds the run's pairs only if the caller's judgement of the total allows it: under a
PostgreSQL advisory lock, or SQLite's `BEGIN IMMEDIATE`, so two replicas cannot both spend the last of
the budget. Times come from the state database's clock (store/clock.py), whatever the hosts' clocks say.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, delete, insert, select, text

from crmsync.reconcile.guard_window import Spent
from crmsync.store.clock import db_epoch
from crmsync.store.guard_tables import GuardWindowEntry
from crmsync.store.holders import holder

TABLE = GuardWindowEntry.__table__  # type: ignore[attr-defined]
LOCK_KEY = 0x67756172640  # "guard": the PostgreSQL advisory lock of a booking
KEEP = 7 * 86400.0  # seconds rows are kept (a window longer than this is read as this long)
Pair = tuple[str, str, str]  # (company id, feature id, "delete" | "downgrade")


def spent_of(pairs: Collection[Pair]) -> Spent:
    """The deletes and downgrades among `pairs` (an override counted once, as a delete if it was one)."""
    deletes = {(c, f) for c, f, kind in pairs if kind == "delete"}
    downgrades = {(c, f) for c, f, kind in pairs if kind != "delete"} - deletes
    return Spent(len(deletes), len(downgrades))


class GuardWindow:
    """The window's bookings over `engine` (the Store's)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.holder = holder()

    def spent(self, window: float, excluding: Collection[Pair] = ()) -> Spent:
        """Overrides deleted or downgraded (or booked by runs under way) in the last `window` seconds,
        but for those of `excluding` (a plan's own pairs are not counted twice)."""
        mine = {(c, f) for c, f, _ in excluding}
        with self.engine.connect() as conn:
            return spent_of([p for p in self._pairs(conn, db_epoch(conn) - window) if (p[0], p[1]) not in mine])

    def book(
        self, run_id: int | None, want: Collection[Pair], window: float, allowed: Callable[[Spent], bool]
    ) -> tuple[str | None, Spent]:
        """Add `want` to the window if `allowed(what the others took)` (pairs already in the window are
        not counted again): the booking's id (None: nothing booked, the caller withholds), and that spent."""
        with self._exclusive() as conn:
            now = db_epoch(conn)
            conn.execute(delete(TABLE).where(TABLE.c.at < now - KEEP))
            mine = {(c, f) for c, f, _ in want}
            spent = spent_of([p for p in self._pairs(conn, now - window) if (p[0], p[1]) not in mine])
            if not allowed(spent):
                return None, spent
            booking = uuid.uuid4().hex
            rows = [{"at": now, "booking": booking, "run_id": run_id, "holder": self.holder, "company_id": c[:64],
                     "feature_id": f[:64], "kind": kind} for c, f, kind in want]  # fmt: skip
            if rows:
                conn.execute(insert(TABLE), rows)
            return booking, spent

    def settle(self, booking: str, made: Collection[Pair]) -> None:
        """The run is over: its booking holds the pairs it actually took away (those a re-plan under a
        lease took away too), and only those."""
        keep = {(c[:64], f[:64], kind) for c, f, kind in made}
        columns = (TABLE.c.id, TABLE.c.company_id, TABLE.c.feature_id, TABLE.c.kind, TABLE.c.at, TABLE.c.run_id)
        with self.engine.begin() as conn:
            rows = conn.execute(select(*columns).where(TABLE.c.booking == booking)).all()
            if not rows:
                return
            booked = {(row[1], row[2], row[3]) for row in rows}
            gone = [row[0] for row in rows if (row[1], row[2], row[3]) not in keep]
            if gone:
                conn.execute(delete(TABLE).where(TABLE.c.id.in_(gone)))
            extra = [{"at": rows[0][4], "booking": booking, "run_id": rows[0][5], "holder": self.holder,
                      "company_id": c, "feature_id": f, "kind": kind} for c, f, kind in keep - booked]  # fmt: skip
            if extra:
                conn.execute(insert(TABLE), extra)

    def _pairs(self, conn: Connection, since: float) -> set[Pair]:
        query = select(TABLE.c.company_id, TABLE.c.feature_id, TABLE.c.kind).where(TABLE.c.at > since).distinct()
        return {(str(c), str(f), str(k)) for c, f, k in conn.execute(query)}

    @contextmanager
    def _exclusive(self) -> Iterator[Connection]:
        # SQLite: every transaction of a writable engine of ours begins with BEGIN IMMEDIATE (engine.py).
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                conn.execute(text("select pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
            yield conn
