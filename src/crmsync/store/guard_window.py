"""The mass-change guard's window in the state database: what every run (any process, any replica)
deleted or downgraded lately, and the reservation a run takes before it writes.

Called by service/guard_window.py. A reservation is one transaction that sums the window and adds
the run's row only if the caller's judgement of the total allows it: under a PostgreSQL advisory
lock, or SQLite's `BEGIN IMMEDIATE`, so two replicas cannot both spend the last of the budget.
Times come from the database server's clock on PostgreSQL (hosts need not agree), this host's on SQLite.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, func, insert, select, text, update

from crmsync.reconcile.guard_window import Spent
from crmsync.store.guard_tables import GuardWindowEntry

TABLE = GuardWindowEntry.__table__  # type: ignore[attr-defined]
LOCK_KEY = 0x67756172640  # "guard": the PostgreSQL advisory lock of a reservation
KEEP = 7 * 86400.0  # seconds rows are kept (a window longer than this is read as this long)


class GuardWindow:
    """The window's spending over `engine` (the Store's)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.holder = f"{socket.gethostname()}:{os.getpid()}"[:128]

    def spent(self, window: float) -> Spent:
        """Deletes and downgrades made or reserved in the last `window` seconds."""
        with self.engine.connect() as conn:
            return self._sum(conn, _now(conn) - window)

    def reserve(
        self, run_id: int | None, want: Spent, window: float, allowed: Callable[[Spent], bool]
    ) -> tuple[int | None, Spent]:
        """Add this run's `want` to the window if `allowed(spent by the others)`: the row's id (None:
        nothing reserved, the caller withholds) and what the others had spent."""
        with self._exclusive() as conn:
            now = _now(conn)
            conn.execute(TABLE.delete().where(TABLE.c.at < now - KEEP))
            spent = self._sum(conn, now - window)
            if not allowed(spent):
                return None, spent
            row = {"at": now, "run_id": run_id, "holder": self.holder, "deletes": want.deletes,
                   "downgrades": want.downgrades}  # fmt: skip
            return int(conn.execute(insert(TABLE).values(row).returning(TABLE.c.id)).scalar_one()), spent

    def settle(self, entry: int, made: Spent) -> None:
        """The run is over: its row holds what it actually deleted and downgraded."""
        with self.engine.begin() as conn:
            values = {"deletes": made.deletes, "downgrades": made.downgrades}
            conn.execute(update(TABLE).where(TABLE.c.id == entry).values(values))

    def _sum(self, conn: Connection, since: float) -> Spent:
        query = select(func.coalesce(func.sum(TABLE.c.deletes), 0), func.coalesce(func.sum(TABLE.c.downgrades), 0))
        deletes, downgrades = conn.execute(query.where(TABLE.c.at > since)).one()
        return Spent(int(deletes), int(downgrades))

    @contextmanager
    def _exclusive(self) -> Iterator[Connection]:
        # SQLite: every transaction of a writable engine of ours begins with BEGIN IMMEDIATE (engine.py).
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                conn.execute(text("select pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
            yield conn


def _now(conn: Connection) -> float:
    if conn.dialect.name == "sqlite":
        return time.time()  # SQLite is one host's file: its clock is everyone's
    return float(conn.execute(text("SELECT extract(epoch from clock_timestamp())")).scalar_one())
