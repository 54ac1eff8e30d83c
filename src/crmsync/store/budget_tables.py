"""The `rate_buckets` table: one token bucket per rate budget, shared by every process using this
state database (see `store/budget.py`, its only user). Same metadata as `tables.py`.
"""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class RateBucket(SQLModel, table=True):
    """A rate budget's bucket: tokens left (negative: reserved ahead) as of `updated_at`."""

    __tablename__ = "rate_buckets"

    name: str = Field(primary_key=True, max_length=64)  # e.g. "schematic.writes"
    tokens: float
    updated_at: float  # seconds since the epoch, on the database server's clock (PostgreSQL) or this host's
