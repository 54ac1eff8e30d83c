"""The `guard_window` table: the overrides each run deleted or downgraded (or has booked to), one row
per (company, feature), so the mass-change guard judges every run of the last window together, across
processes and replicas (store/guard_window.py is its only user). Same metadata as `tables.py`.
"""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class GuardWindowEntry(SQLModel, table=True):
    """One override a run takes away: booked before its writes, kept after them only if it was made."""

    __tablename__ = "guard_window"

    id: int | None = Field(default=None, primary_key=True)
    at: float = Field(index=True)  # seconds since the epoch, on the database server's clock (PostgreSQL)
    booking: str = Field(max_length=32)  # one run's booking (the rows it settles)
    run_id: int | None = None
    holder: str = Field(default="", max_length=128)  # host:pid of the process that booked it
    company_id: str = Field(max_length=64)
    feature_id: str = Field(max_length=64)
    kind: str = Field(max_length=16)  # "delete" or "downgrade"
