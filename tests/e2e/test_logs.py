"""What an operator sees in the logs of a real run against the sandbox: one event per change,
run start and end, every retry with its wait, in JSON on stderr when asked, and never a secret."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import Result

from crmsync import logs
from crmsync.log_events import log_run
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import invoke

JSON_INFO = ("--log-format", "json", "--log-level", "info")


@pytest.fixture(autouse=True)
def reset_logging() -> Iterator[None]:
    """Each test starts and ends with logging as an entry point finds it."""
    yield
    logs.reset_logging()


def events(result: Result, name: str | None = None) -> list[dict[str, Any]]:
    """The JSON log lines on stderr (every one but the `State database: …` line `plan` prints there),
    optionally only those named `name`."""
    lines = [line for line in result.stderr.splitlines() if not line.startswith("State database: ")]
    parsed = [json.loads(line) for line in lines]
    return [e for e in parsed if name is None or e["event"] == name]


def test_an_apply_logs_one_change_event_per_change_with_its_fields(harness: Harness) -> None:
    """`--log-format json` apply: a `change` event per create, with ids, result and duration."""
    result = invoke(harness, *JSON_INFO, "apply", "--yes")
    assert result.exit_code == 0, result.output
    changes = events(result, "change")
    assert len(changes) == 10
    for change in changes:
        assert change["action"] == "create" and change["result"] == "ok" and change["level"] == "info"
        assert change["company_id"] and change["feature_id"] and change["override_id"]
        assert isinstance(change["duration_ms"], float) and change["duration_ms"] >= 0
    assert not any(line.startswith("{") for line in result.stdout.splitlines())  # the table stays on stdout


def test_a_failed_change_is_logged_as_failed_with_the_error(harness: Harness) -> None:
    """A create Schematic rejects is a warning-level `change` event with result failed and the reason."""
    harness.sb.schematic.fail_next("POST", "/company-overrides", 400, times=1)
    result = invoke(harness, *JSON_INFO, "apply", "--yes")
    assert result.exit_code == 1
    failed = [e for e in events(result, "change") if e["result"] == "failed"]
    assert len(failed) == 1 and failed[0]["level"] == "warning" and "400" in failed[0]["error"]


def test_logs_never_reach_stdout_so_plan_json_stays_parseable(harness: Harness) -> None:
    """`plan --json` with debug logs: stdout is exactly one JSON object; the logs are on stderr."""
    harness.sb.schematic.fail_next("GET", "/features", 429, retry_after=0.1)
    result = invoke(harness, "--log-format", "json", "--log-level", "debug", "plan", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["create"] == 10
    assert events(result, "api.retry")


def test_a_schematic_429_with_retry_after_is_logged_as_a_retry_with_its_wait(harness: Harness) -> None:
    """A 429 carrying Retry-After: an `api.retry` event with service, method, path, status, attempt and wait."""
    harness.sb.schematic.fail_next("POST", "/company-overrides", 429, retry_after=0.2)
    result = invoke(harness, *JSON_INFO, "apply", "--yes")
    assert result.exit_code == 0, result.output
    (retry,) = events(result, "api.retry")
    assert retry["service"] == "schematic" and retry["method"] == "POST" and retry["path"] == "/company-overrides"
    assert retry["status"] == 429 and retry["attempt"] == 1 and retry["retry_after"] == 0.2 and retry["wait_s"] == 0.2


def test_a_hubspot_429_is_logged_as_a_retry(harness: Harness) -> None:
    """urllib3's retries inside the HubSpot SDK are logged through the Retry crmsync configures into it."""
    harness.sb.hubspot.fail_next(429, times=1, path_prefix="/crm/v3/objects/deals/search")
    result = invoke(harness, *JSON_INFO, "plan")
    assert result.exit_code == 0, result.output
    (retry,) = events(result, "api.retry")
    assert retry["service"] == "hubspot" and retry["status"] == 429 and retry["method"] == "POST"
    assert retry["path"] == "/crm/v3/objects/deals/search" and retry["attempt"] == 1


def test_by_default_a_successful_command_logs_nothing(harness: Harness) -> None:
    """Run by hand without log options, `apply --yes` prints its own output and no log line."""
    result = invoke(harness, "apply", "--yes")
    assert result.exit_code == 0 and result.stderr == ""


def test_the_environment_chooses_json_logs(harness: Harness) -> None:
    """CRMSYNC_LOG_FORMAT=json and CRMSYNC_LOG_LEVEL=info do what the options do."""
    result = invoke(harness, "apply", "--yes", env={"CRMSYNC_LOG_FORMAT": "json", "CRMSYNC_LOG_LEVEL": "info"})
    assert result.exit_code == 0 and len(events(result, "change")) == 10


def test_an_unknown_log_format_is_a_usage_error(harness: Harness) -> None:
    """`--log-format xml` exits 2 naming the formats, before anything runs."""
    result = invoke(harness, "--log-format", "xml", "plan")
    assert result.exit_code == 2 and "console, json" in result.output
    assert harness.sb.schematic.write_count == 0


def test_a_run_logs_its_start_and_end_with_duration(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    """The reconcile use case logs `run.started`, then `run.finished` with status, run id, counts and duration_ms."""
    logs.configure_logging("json", "info")
    harness.apply()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    runs = [e for e in lines if e["event"].startswith("run.")]
    assert [e["event"] for e in runs] == ["run.started", "run.finished"]
    assert runs[0]["command"] == "apply" and runs[0]["trigger"] == "manual" and runs[0]["scope"] == "all"
    assert runs[1]["status"] == "ok" and runs[1]["create"] == 10 and runs[1]["failed"] == 0
    assert runs[1]["run_id"] == 1 and runs[1]["duration_ms"] > 0
    assert len([e for e in lines if e["event"] == "change"]) == 10


def test_a_failed_run_logs_failed_with_the_error_type(capsys: pytest.CaptureFixture[str]) -> None:
    """A run whose body raises ends with `run.finished` status failed and the error's type, and re-raises."""
    logs.configure_logging("json", "info")
    with pytest.raises(KeyError), log_run("apply", "schedule"):
        raise KeyError("x")
    end = json.loads(capsys.readouterr().err.splitlines()[-1])
    assert end["event"] == "run.finished" and end["status"] == "failed" and end["error"] == "KeyError"


def test_no_secret_appears_in_any_log_line_or_output(harness: Harness) -> None:
    """With every secret variable set, debug logs, retries and a rejected write: no secret value anywhere."""
    secrets = {
        "HUBSPOT_CLIENT_SECRET": "hs-client-secret-value",
        "SCHEMATIC_WEBHOOK_SECRET": "whsec-value-123",
        "CRMSYNC_OPS_TOKEN": "ops-token-value-456",
        "SALESFORCE_PASSWORD": "sf-password-value",
    }
    harness.sb.hubspot.fail_next(429, times=1, path_prefix="/crm/v3/objects/deals/search")
    harness.sb.schematic.fail_next("POST", "/company-overrides", 429, retry_after=0.1)
    harness.sb.schematic.fail_next("POST", "/company-overrides", 400, times=1)
    result = invoke(harness, "--log-format", "json", "--log-level", "debug", "apply", "--yes", env=secrets)
    assert result.exit_code == 1 and len(events(result)) >= 10  # retries, changes, waits: plenty was logged
    values = [*secrets.values(), *(v for k, v in harness.env().items() if k.endswith(("_KEY", "_TOKEN")))]
    assert len(values) >= 7
    for value in values:
        assert value not in result.output and value not in result.stderr, value
