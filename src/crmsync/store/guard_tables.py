"""The `guard_window` table: the deletes and downgrades each run made (or has reserved), so the
mass-change guard judges every run of the last window together, across processes and replicas
(store/guard_window.py is its only user). Same metadata as `tables.py`.
"""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class GuardWindowEntry(SQLModel, table=True):
    """One run's share of the window: reserved before its writes, settled to what it made after them."""

    __tablename__ = "guard_window"

    id: int | None = Field(default=None, primary_key=True)
    at: float = Field(index=True)  # seconds since the epoch, on the database server's clock (PostgreSQL)
    run_id: int | None = None
    holder: str = Field(default="", max_length=128)  # host:pid of the process that reserved it
    deletes: int = 0
    downgrades: int = 0
