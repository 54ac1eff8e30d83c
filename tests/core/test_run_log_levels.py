"""`run.finished` is logged at the level its status deserves: a failed run is an error, a refused or
busy one a warning, an ok one info; a run ended by an exception stays info (its catcher reports it)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from crmsync import log_events, logs


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """JSON logs at debug; reset afterwards."""
    logs.configure_logging("json", "debug")
    yield capsys
    logs.reset_logging()


def finished_level(capsys: pytest.CaptureFixture[str]) -> str:
    """The level of the one `run.finished` line logged."""
    (line,) = [json.loads(x) for x in capsys.readouterr().err.splitlines() if '"run.finished"' in x]
    return str(line["level"])


@pytest.mark.parametrize(
    ("status", "level"), [("ok", "info"), ("failed", "error"), ("refused", "warning"), ("busy", "warning")]
)
def test_the_status_sets_the_level(status: str, level: str, json_logs: pytest.CaptureFixture[str]) -> None:
    """A run that did not do its job is seen at warning and up."""
    with log_events.log_run("apply", "webhook") as end:
        end["status"] = status
    assert finished_level(json_logs) == level


def test_a_run_ended_by_an_exception_is_left_to_its_catcher(json_logs: pytest.CaptureFixture[str]) -> None:
    """The exception's catcher (the CLI's one line, serve's reconcile.failed) reports it; run.finished stays info."""
    with pytest.raises(RuntimeError), log_events.log_run("apply", "manual"):
        raise RuntimeError("boom")
    assert finished_level(json_logs) == "info"
