"""Periodic jobs run once per interval across replicas: the slot arithmetic and the slot claim."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crmsync.errors import ConfigError
from crmsync.serving.schedule import PeriodicJob, slot_start
from crmsync.settings import load_settings
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


def test_the_config_files_serve_section_sets_the_job_intervals(tmp_path: Path) -> None:
    """[serve] in the TOML file sets the poll and resync schedule (the serve flags win over it)."""
    config = tmp_path / "crmsync.toml"
    config.write_text('[serve]\npoll_interval = 5\nresync_cron = "0 */6 * * *"\n')
    tuning = load_settings({"CRMSYNC_CONFIG": str(config)}).serve
    assert (tuning.poll_interval, tuning.resync_interval, tuning.resync_cron) == (5.0, 21600.0, "0 */6 * * *")


def test_a_bad_serve_setting_is_a_config_error(tmp_path: Path) -> None:
    """A negative interval or a cron that is not a string is refused, naming the key."""
    config = tmp_path / "crmsync.toml"
    config.write_text("[serve]\nresync_cron = 6\n")
    with pytest.raises(ConfigError, match="resync_cron"):
        load_settings({"CRMSYNC_CONFIG": str(config)})
    config.write_text("[serve]\npoll_interval = -1\n")
    with pytest.raises(ConfigError, match="poll_interval"):
        load_settings({"CRMSYNC_CONFIG": str(config)})
