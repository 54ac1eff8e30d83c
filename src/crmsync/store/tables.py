"""SQLModel tables of the state database: ownership ledger, runs, cursors.

Portable between SQLite (default) and PostgreSQL: plain column types, JSON kept as text,
timestamps in UTC. Only `repository.py` queries them. No secret is ever
stored: notes and override values only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

# At most one live (intent or active) ledger row per company and feature: two processes racing to
# create the same override cannot both record it (the second insert fails, nothing is sent).
LIVE_STATES = "status IN ('intent', 'active')"


class OwnedOverride(SQLModel, table=True):
    """An override crmsync created (or is creating): the ownership ledger.

    A row is written with status `intent` and a unique `token` *before* the create call
    (the token also goes into the override's note), and becomes `active` with the
    override id once Schematic confirms. A lost response is found again by its token.
    """

    __tablename__ = "owned_overrides"
    __table_args__ = (
        Index(
            "ux_owned_overrides_live_pair",
            "company_id",
            "feature_id",
            unique=True,
            sqlite_where=text(LIVE_STATES),
            postgresql_where=text(LIVE_STATES),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(unique=True, index=True, max_length=64)
    override_id: str | None = Field(default=None, unique=True, index=True, max_length=64)
    company_id: str = Field(index=True, max_length=64)
    feature_id: str = Field(max_length=64)
    sources: str = Field(default="", max_length=64)  # comma-separated CRMs that drive it
    value_json: str = Field(default="{}")  # what crmsync last applied
    pending_json: str | None = Field(default=None)  # an update sent whose answer never came (settled next run)
    note: str = Field(default="")
    status: str = Field(default="intent", index=True, max_length=16)  # a domain.LedgerState
    created_at: datetime
    updated_at: datetime


class RunRecord(SQLModel, table=True):
    """One plan or apply run."""

    __tablename__ = "runs"

    id: int | None = Field(default=None, primary_key=True)
    command: str = Field(max_length=32)  # plan | apply
    trigger: str = Field(max_length=32)  # a domain.Trigger
    started_at: datetime
    finished_at: datetime | None = None
    status: str = Field(default="running", max_length=16)  # a domain.RunStatus
    plan_checksum: str | None = Field(default=None, index=True, max_length=80)  # the saved plan a run applied
    holder: str | None = Field(default=None, max_length=128)  # host:pid of the process running it
    heartbeat_at: datetime | None = None  # the database's clock at the run's last sign of life
    lease_s: float | None = None  # how long without a heartbeat before another process may close it
    actor: str | None = Field(default=None, max_length=128)  # who started it: a person, `serve`; None before 0006
    summary_json: str = Field(default="{}")
    errors_json: str = Field(default="[]")


class RunChange(SQLModel, table=True):
    """The result of one change within a run."""

    __tablename__ = "run_changes"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runs.id", index=True)
    action: str = Field(max_length=16)
    company_id: str = Field(max_length=64)
    feature_id: str = Field(max_length=64)
    override_id: str | None = Field(default=None, max_length=64)
    ok: bool
    message: str = Field(default="")


class KnownCompany(SQLModel, table=True):
    """A Schematic company as the last run read it: what the console searches and names companies by
    (kept by every run that read companies; a full run also forgets the ones gone from Schematic)."""

    __tablename__ = "companies"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(default="", index=True, max_length=256)
    keys_json: str = Field(default="{}")  # {"hubspot_company_id": "5001", …}
    updated_at: datetime


class Cursor(SQLModel, table=True):
    """How far an incremental read of one source has got."""

    __tablename__ = "cursors"

    source: str = Field(primary_key=True, max_length=32)
    value: str
    updated_at: datetime


class SourceCount(SQLModel, table=True):
    """How many deals a source returned at the last successful apply: the guard's baseline."""

    __tablename__ = "source_counts"

    source: str = Field(primary_key=True, max_length=32)
    deals: int
    updated_at: datetime


class Lease(SQLModel, table=True):
    """A named lease (e.g. `company:comp_…`): who holds it and until when. A holder renews it while it
    works; an expired lease is free, so a killed process blocks nobody for longer than the lease."""

    __tablename__ = "leases"

    name: str = Field(primary_key=True, max_length=128)
    holder: str = Field(max_length=128)
    expires_at: float  # seconds since the epoch (a plain number compares alike on SQLite and PostgreSQL)
    acquired_at: float
