"""The state database's clock: the one clock every lease, intake claim and run heartbeat is judged by.

Hosts need not agree on the time: each "has it expired" decision reads `clock_timestamp()` from the
PostgreSQL server (or SQLite's `'now'`, one host's file by construction) inside the transaction that
acts on it, never this process's clock. Called by store/leases.py, store/intake.py and store/runs.py;
`as_utc` is the one reading of a stored datetime as UTC (store/runs.py, store/snapshot.py).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection

# SQLite's julian day of the Unix epoch: (julianday - EPOCH_JD) * 86400 is seconds since 1970.
EPOCH_JD = 2440587.5


def db_epoch(conn: Connection) -> float:
    """Seconds since the epoch by the database's clock (the leases' unit)."""
    if conn.dialect.name == "postgresql":
        return float(conn.execute(text("SELECT extract(epoch from clock_timestamp())")).scalar_one())
    return float(conn.execute(text(f"SELECT (julianday('now') - {EPOCH_JD}) * 86400.0")).scalar_one())


def db_now(conn: Connection) -> datetime:
    """Now by the database's clock, as an aware UTC datetime (the intake's and the runs' unit)."""
    if conn.dialect.name == "postgresql":
        value: datetime = conn.execute(text("SELECT clock_timestamp()")).scalar_one()  # timestamptz: aware
        return as_utc(value)
    raw = conn.execute(text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")).scalar_one()
    return as_utc(datetime.fromisoformat(str(raw)))


def as_utc(value: datetime) -> datetime:
    """A datetime read from the state database as an aware UTC one: SQLite gives naive datetimes
    back, written as UTC; PostgreSQL aware ones, in the session's zone."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
