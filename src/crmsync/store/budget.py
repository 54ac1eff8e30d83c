"""A rate budget kept in the state database, so that a configured rate holds in total across every
process sharing that database (`serve` replicas plus a manual `apply`).

Each take is one short transaction on the bucket's row in `rate_buckets`: `SELECT … FOR UPDATE` on
PostgreSQL (timed by the server's clock, so hosts need not agree on the time), `BEGIN IMMEDIATE` on
SQLite. The arithmetic is `pacing.reserve`: a take may put the bucket in debt, which the caller
then sleeps off, so processes are served in the order they asked. To keep round trips cheap a
process reserves up to rate/10 tokens at once and spends them locally: the total still never
exceeds the rate, but one process may hold (and burst) up to that many while the others wait.
Built by the wiring when a state database is open; without one, `pacing.LocalBudget` does.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from crmsync.logs import get_logger
from crmsync.pacing import Bucket, LocalBudget, RateBudget, Unlimited, log_wait, reserve
from crmsync.store.budget_tables import RateBucket
from crmsync.store.engine import begins_immediately

TABLE = RateBucket.__tablename__
log = get_logger(__name__)


class SharedBudget:
    """A token bucket named `name` in the database behind `engine` (implements `pacing.RateBudget`).

    If the database cannot take the write (read-only, gone), this process falls back to pacing
    itself alone, logs a warning once, and carries on: pacing must never stop a read."""

    def __init__(
        self,
        engine: Engine,
        name: str,
        rate: float,
        *,
        burst: float | None = None,
        batch: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("a rate budget needs a rate > 0 (use pacing.Unlimited for none)")
        self.name = name
        self.rate = rate
        self.batch = batch or max(1, int(rate // 10))
        self.burst = max(burst or 0.0, float(self.batch))
        self.round_trips = 0
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._sleep = sleep
        self._held = 0  # tokens reserved (and waited for) but not used yet
        self._lock = threading.Lock()
        self._table_checked = False
        self._fallback: RateBudget | None = None

    def take(self, n: int = 1) -> None:
        """Block until `n` calls are allowed across every process sharing the bucket."""
        with self._lock:
            if self._fallback is not None:
                self._fallback.take(n)
                return
            if self._held >= n:
                self._held -= n
                return
            need = n - self._held
            ask = max(need, self.batch)
            try:
                wait = self._reserve(ask)
            except SQLAlchemyError as exc:
                log.warning(
                    "rate.shared_unavailable",
                    budget=self.name,
                    error=type(exc).__name__,
                    detail="pacing this process alone",
                )
                self._fallback = LocalBudget(self.name, self.rate, burst=self.burst, sleep=self._sleep)
                self._held = 0
                self._fallback.take(n)
                return
            if wait > 0:  # the lock is held on purpose: this process's other threads queue behind
                log_wait(self.name, wait, ask)
                self._sleep(wait)
            self._held = ask - need

    def _reserve(self, n: int) -> float:
        """One transaction: refill the bucket, take `n`, write it back; the wait that debt implies."""
        self._ensure_table()
        self.round_trips += 1
        with self._engine.connect() as conn:
            if self._sqlite and not begins_immediately(self._engine):
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock now, not at the UPDATE
            now = self._now(conn)
            conn.execute(
                text(
                    f"INSERT INTO {TABLE} (name, tokens, updated_at) VALUES (:name, :tokens, :now) "
                    "ON CONFLICT (name) DO NOTHING"
                ),
                {"name": self.name, "tokens": self.burst, "now": now},
            )
            lock = "" if self._sqlite else " FOR UPDATE"
            row = conn.execute(
                text(f"SELECT tokens, updated_at FROM {TABLE} WHERE name = :name{lock}"), {"name": self.name}
            ).one()
            bucket, wait = reserve(Bucket(float(row[0]), float(row[1])), now, n, rate=self.rate, burst=self.burst)
            conn.execute(
                text(f"UPDATE {TABLE} SET tokens = :tokens, updated_at = :at WHERE name = :name"),
                {"tokens": bucket.tokens, "at": bucket.at, "name": self.name},
            )
            conn.commit()
        return wait

    def _now(self, conn: Connection) -> float:
        if self._sqlite:
            return time.time()  # SQLite is one host's file: its clock is everyone's
        return float(conn.execute(text("SELECT extract(epoch from clock_timestamp())")).scalar_one())

    def _ensure_table(self) -> None:
        """Create `rate_buckets` if this database predates it (another process may race us to it)."""
        if self._table_checked:
            return
        # another process may create it meanwhile; a real failure shows on the first take
        with contextlib.suppress(SQLAlchemyError):
            RateBucket.__table__.create(self._engine, checkfirst=True)  # type: ignore[attr-defined]
        self._table_checked = True


def rate_budget(name: str, rate: float, engine: Engine | None) -> RateBudget:
    """The budget for `rate` calls per second named `name`: shared through the state database behind
    `engine` when there is one, else this process's own (a rate of 0: unlimited)."""
    if rate <= 0:
        return Unlimited(name)
    return SharedBudget(engine, name, rate) if engine is not None else LocalBudget(name, rate)
