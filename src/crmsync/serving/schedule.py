"""Periodic jobs of `crmsync serve` that run once per interval across every replica.

Each replica's in-process timer (APScheduler, serving/runtime.py) fires every job; the job first claims
its slot — the start of the current interval — with a unique (job, slot) row, and only the replica
that inserted it runs the job. A dead replica is replaced at the next slot; no leader is needed.
The jobs queue their work through the intake, so they run under the same per-company exclusivity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from crmsync.domain import Trigger
from crmsync.logs import get_logger
from crmsync.store.intake import ALL_COMPANIES, IntakeStore

log = get_logger("crmsync.schedule")


def slot_start(now: datetime, seconds: float) -> datetime:
    """The start of the interval of `seconds` that `now` falls in, counted from the Unix epoch (the same
    for every replica, whenever each one started)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    step = max(1, round(seconds))
    return epoch + timedelta(seconds=int((now - epoch).total_seconds()) // step * step)


@dataclass(frozen=True)
class PeriodicJob:
    """A job that runs at most once per slot of `seconds` (for cron jobs: per minute) across replicas."""

    name: str
    seconds: float
    action: Callable[[], object]

    def fire(self, intake: IntakeStore, runner: str, now: datetime | None = None) -> bool:
        """Run the action if this replica wins the current slot; True if it ran."""
        slot = slot_start(now or intake.now(), self.seconds)  # the database's clock: replicas agree on the slot
        if not intake.win_slot(self.name, slot, runner):
            log.debug("job.slot_taken", job=self.name, slot=slot.isoformat())  # by another replica
            return False
        log.info("job.running", job=self.name, slot=slot.isoformat())
        self.action()
        return True


def queue_full_run(intake: IntakeStore, trigger: Trigger, wake: Callable[[], None]) -> Callable[[], object]:
    """An action queuing a reconcile of every company (the worker runs it; many queued make one run): the
    scheduled full resync. Polls queue hints instead (polling.py)."""

    def action() -> None:
        intake.enqueue_companies([ALL_COMPANIES], trigger)
        wake()

    return action


KEEP = timedelta(days=3)  # HubSpot retries for 24 h, Salesforce for 24 h: dedupe keys must outlive that


def prune_intake(intake: IntakeStore, keep: timedelta = KEEP) -> Callable[[], object]:
    """An action deleting finished hints and old schedule slots."""

    def action() -> None:
        removed = intake.prune(intake.now() - keep)
        log.info("intake.pruned", rows=removed)

    return action
