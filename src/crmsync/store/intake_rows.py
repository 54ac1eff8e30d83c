"""The values the intake's queries (store/intake.py) take and return: a hint to store, a claimed hint,
a claimed company, a finished run, the queue's depth. Plain frozen dataclasses, so the webhook
endpoints, the poller and the worker hand them around without knowing the tables (intake_tables.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from crmsync.domain import Trigger

ALL_COMPANIES = "*"  # the company_work row of a full reconcile


def utcnow() -> datetime:
    """Now, as the intake tables store it (aware UTC)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class NewEvent:
    """A hint to store: what changed, where it came from, and the key that makes a redelivery a no-op."""

    source: str
    kind: str
    object_id: str
    dedupe_key: str
    company_key: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class ClaimedEvent:
    """An intake row the caller now holds under a lease."""

    id: int
    source: str
    kind: str
    object_id: str
    company_key: str | None
    received_at: datetime
    attempts: int


def stored_trigger(value: str) -> Trigger:
    """The trigger a queued row was stored with (its enum value); "resync" is what serve stored for the
    scheduled full run before the enum's value was stored, in rows still queued from then."""
    return Trigger.SCHEDULE if value == "resync" else Trigger(value)


@dataclass(frozen=True)
class ClaimedWork:
    """A company the caller now reconciles, alone, under a lease."""

    id: int
    company_id: str
    trigger: Trigger
    first_hint_at: datetime | None
    attempts: int


@dataclass(frozen=True)
class Finished:
    """A claimed company's run ended: `ok` (or given up) is done, else pending after `retry_delay` seconds."""

    work_id: int
    ok: bool
    retry_delay: float = 0.0


@dataclass(frozen=True)
class Depth:
    """How much is waiting: rows not yet done, and when the oldest of them arrived (None: nothing)."""

    events: int
    companies: int
    oldest: datetime | None
