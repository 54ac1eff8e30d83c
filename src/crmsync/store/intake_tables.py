"""SQLModel tables of `crmsync serve`'s durable intake: pushed hints, per-company work, schedule slots.

On the same metadata as `tables.py` (so `Store` creates them); portable between SQLite and
PostgreSQL. Only `store/intake.py` queries them. A row holds ids and states only, never a payload
value beyond the ids it names and never a secret.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class IntakeEvent(SQLModel, table=True):
    """One accepted hint from a webhook (or poller): which object changed, to be resolved to companies.

    Written before the webhook is answered 2xx; `dedupe_key` is unique, so a redelivery inserts
    nothing. States: pending → claimed (under a lease until `claimed_until`) → done | failed; an
    expired claim is pending again (a crashed worker's rows come back).
    """

    __tablename__ = "intake_events"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=16)  # hubspot | salesforce | schematic | ops
    kind: str = Field(max_length=48)  # e.g. deal.propertyChange, opportunity, company.override.updated
    object_id: str = Field(max_length=64)  # deal / Opportunity / override id
    company_key: str | None = Field(default=None, max_length=64)  # a company the payload names (a hint)
    occurred_at: datetime | None = None
    received_at: datetime
    dedupe_key: str = Field(max_length=200, unique=True)
    state: str = Field(default="pending", max_length=16)  # pending | claimed | done | failed
    attempts: int = 0
    not_before: datetime
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = None
    error: str = Field(default="", max_length=500)

    __table_args__ = (Index("ix_intake_events_state_id", "state", "id"),)


class CompanyWork(SQLModel, table=True):
    """One row per Schematic company (or `*` for a full run): reconcile it, once, by one process.

    Many hints upsert the same row (pending stays pending: they collapse into one run); a hint
    landing while the row is `running` sets `dirty`, which turns it pending again when the run
    ends: exactly one more run. `running` is held under a lease the worker renews.
    """

    __tablename__ = "company_work"

    id: int | None = Field(default=None, primary_key=True)
    company_id: str = Field(max_length=64)
    state: str = Field(default="pending", max_length=16)  # pending | running | done
    dirty: bool = False
    dirty_since: datetime | None = None  # the oldest hint that arrived during the run
    trigger: str = Field(default="webhook", max_length=32)
    first_hint_at: datetime | None = None  # the oldest hint this run answers (latency metric)
    attempts: int = 0
    not_before: datetime
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = None
    updated_at: datetime

    __table_args__ = (
        UniqueConstraint("company_id", name="uq_company_work_company"),
        Index("ix_company_work_state", "state", "not_before"),
    )


class ScheduleSlot(SQLModel, table=True):
    """A periodic job's run for one interval: the replica that inserts the row runs the job."""

    __tablename__ = "schedule_slots"

    job_name: str = Field(primary_key=True, max_length=64)
    slot_start: datetime = Field(primary_key=True)
    runner: str = Field(max_length=64)
    claimed_at: datetime
