"""Named leases in the state database: the exclusion that lets several processes (manual
`apply`s, `serve` replicas) reconcile at once without ever writing the same company together.

A lease is one row (`leases`): taken by inserting it, or by updating it when it has expired or is
already ours, in one short transaction, so exactly one holder wins on SQLite and on PostgreSQL
alike. Expiry is judged by the database's clock (store/clock.py), so a host whose clock runs ahead
cannot take a live lease. A holder renews its leases while it works and drops them when done; a
process that dies simply stops renewing, and its leases are free again `ttl` seconds later. Called
by the reconcile use case (service/reconcile.py) around each company's writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence

from sqlalchemy import delete, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from crmsync.store.clock import db_epoch
from crmsync.store.holders import holder
from crmsync.store.repository import Store
from crmsync.store.tables import Lease

DEFAULT_TTL = 60.0


def holder_name() -> str:
    """Who holds a lease: host, process id and a random part (a pid can be reused after a crash)."""
    return holder(unique=True)


class LeaseBook:
    """The leases one process holds in one state database."""

    def __init__(
        self,
        store: Store,
        *,
        ttl: float = DEFAULT_TTL,
        holder: str | None = None,
        elapsed: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store, self.ttl, self.holder, self.elapsed = store, ttl, holder or holder_name(), elapsed
        # name → when we last took or renewed it, on a monotonic clock: only "is a renewal due" is
        # judged here; whether a lease expired is always the database's decision.
        self.held: dict[str, float] = {}

    def try_acquire(self, names: Sequence[str]) -> list[str]:
        """Take every free (or expired, or already ours) lease of `names`; return those taken.
        Never waits: a lease held by another live process is simply not returned."""
        if not names:
            return []
        began = self.elapsed()
        taken: list[str] = []

        def work(conn: Connection) -> None:
            now = db_epoch(conn)
            wanted = sorted(set(names))  # one order for every process: two takers never wait on each other in a ring
            for n in range(0, len(wanted), 500):
                taken.extend(self._take(conn, wanted[n : n + 500], now))

        self.store.transact(work)
        self.held.update(dict.fromkeys(taken, began))
        return taken

    def renew_due(self) -> list[str]:
        """Renew the held leases when a third of their time has passed; return any found lost
        (taken over after expiring: their holder must stop writing for them)."""
        began = self.elapsed()
        due = [n for n, at in self.held.items() if began - at >= self.ttl / 3]
        if not due:
            return []
        kept: list[str] = []

        def work(conn: Connection) -> None:
            now = db_epoch(conn)
            for name in due:
                query = (
                    update(Lease)
                    .where(Lease.name == name, Lease.holder == self.holder)  # type: ignore[arg-type]
                    .values(expires_at=now + self.ttl)
                )
                if conn.execute(query).rowcount == 1:
                    kept.append(name)

        self.store.transact(work)
        lost = [n for n in due if n not in kept]
        for name in due:
            if name in kept:
                self.held[name] = began
            else:
                self.held.pop(name, None)
        return lost

    def release(self, names: Collection[str] | None = None) -> None:
        """Give up leases (default: all held)."""
        chosen = list(self.held if names is None else names)
        if not chosen:
            return

        def work(conn: Connection) -> None:
            conn.execute(
                delete(Lease).where(Lease.name.in_(chosen), Lease.holder == self.holder)  # type: ignore[attr-defined,arg-type]
            )

        self.store.transact(work)
        for name in chosen:
            self.held.pop(name, None)

    def _take(self, conn: Connection, names: list[str], now: float) -> list[str]:
        """Take the free, expired or already-ours leases of `names` (sorted): new rows in one insert, the
        rest in one conditional update; the names taken."""
        values = [{"name": n, "holder": self.holder, "expires_at": now + self.ttl, "acquired_at": now} for n in names]
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        table = Lease.__table__  # type: ignore[attr-defined]
        insert = dialect.insert(table).values(values).on_conflict_do_nothing(index_elements=["name"])
        inserted = {str(n) for (n,) in conn.execute(insert.returning(table.c.name))}
        rest = [n for n in names if n not in inserted]
        taken_over: set[str] = set()
        if rest:
            mine_or_expired = or_(table.c.expires_at <= now, table.c.holder == self.holder)
            query = (
                update(table)
                .where(table.c.name.in_(rest), mine_or_expired)
                .values(holder=self.holder, expires_at=now + self.ttl, acquired_at=now)
                .returning(table.c.name)
            )
            taken_over = {str(n) for (n,) in conn.execute(query)}
        return [n for n in names if n in inserted or n in taken_over]
