"""Periodic jobs run once per interval across replicas: the slot arithmetic and the slot claim."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from crmsync.service.schedule import PeriodicJob, slot_start
from tests.serve.databases import intake_database


def test_replicas_started_at_different_times_share_slots() -> None:
    """Every instant of one interval maps to the same slot start, counted from the epoch."""
    base = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert {slot_start(base + timedelta(seconds=s), 60) for s in (0, 1, 30, 59.9)} == {base}
    assert slot_start(base + timedelta(seconds=60), 60) == base + timedelta(minutes=1)
    assert slot_start(base + timedelta(hours=5), 6 * 3600) == base


def test_a_job_runs_once_per_slot_whichever_replica_fires(tmp_path: Path) -> None:
    """Two replicas firing the same job in the same interval run it once; the next interval runs again."""
    ran: list[str] = []
    job = PeriodicJob("resync", 3600, lambda: ran.append("run"))
    now = datetime(2026, 11, 30, 12, 10, tzinfo=UTC)
    with intake_database("sqlite", tmp_path) as (_store, intake):
        assert job.fire(intake, "replica-a", now=now)
        assert not job.fire(intake, "replica-b", now=now + timedelta(minutes=20))
        assert job.fire(intake, "replica-b", now=now + timedelta(hours=1))
    assert ran == ["run", "run"]
