"""The deal snapshot's tables: the deals each reconcile read, kept for the mapping preview.

`deal_snapshot` holds one row per deal (its digest, to write only rows that changed, and its body
as JSON); `deal_snapshot_sources` one row per CRM saying what the snapshot holds of it (the read's
filters and properties) and when it was last read. Only `store/snapshot.py` queries them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel


class DealSnapshot(SQLModel, table=True):
    """One deal as a reconcile last read it."""

    __tablename__ = "deal_snapshot"

    source: str = Field(primary_key=True, max_length=16)  # a domain.Source
    deal_id: str = Field(primary_key=True, max_length=64)
    company_ref: str | None = Field(default=None, index=True, max_length=64)  # a scoped read replaces by company
    digest: int = Field(sa_type=BigInteger)  # a hash of the deal's content: an unchanged deal is not written again
    body: str  # the deal as JSON (store/snapshot.py)
    seen_at: datetime


class DealSnapshotSource(SQLModel, table=True):
    """What the snapshot holds of one CRM: the query it was read with, and when."""

    __tablename__ = "deal_snapshot_sources"

    source: str = Field(primary_key=True, max_length=16)
    query_json: str  # the read's filters and properties: a preview needing more reads the CRM instead
    full_read_at: datetime | None = None  # the last complete full read; None: not trusted (query changed since)
    updated_at: datetime  # the last read that refreshed any of it (a full read, or a scoped one)
