"""`crmsync doctor` against the sandbox: one line per check, exit 0 only when every check passes."""

from __future__ import annotations

import json
import re

from tests.e2e.conftest import Harness
from tests.e2e.scenarios import invoke
from tests.e2e.test_cli import free_port


def checks(h: Harness, env: dict[str, str] | None = None) -> tuple[int, dict[tuple[str, str], list[bool]]]:
    """Exit code and each (service, check) → verdicts of `doctor --json`."""
    result = invoke(h, "doctor", "--json", env=env)
    doc = json.loads(result.stdout)
    found: dict[tuple[str, str], list[bool]] = {}
    for c in doc["checks"]:
        found.setdefault((c["service"], c["check"]), []).append(c["ok"])
    assert doc["ok"] is (result.exit_code == 0) and doc["format_version"] == 1
    return result.exit_code, found


def test_all_checks_pass_on_the_sandbox(harness: Harness) -> None:
    """Schematic, HubSpot and Salesforce reachable, credentials accepted, scopes and objects readable,
    the API allocation reported: exit 0 and one text line per check plus a count."""
    code, found = checks(harness)
    assert code == 0
    assert found[("hubspot", "scopes")] == [True, True]
    assert found[("salesforce", "object access")] == [True, True]
    assert found[("salesforce", "rate limit")] == [True] and found[("schematic", "credentials")] == [True]
    text = invoke(harness, "doctor").output.strip().splitlines()
    assert text[-1] == f"{len(text) - 1} of {len(text) - 1} checks passed."


def test_missing_and_rejected_credentials_fail_with_exit_1(harness: Harness) -> None:
    """No Schematic key and a wrong HubSpot token: two failed lines naming the variables; Salesforce still checked."""
    code, found = checks(harness, {"SCHEMATIC_API_KEY": "", "HUBSPOT_ACCESS_TOKEN": "wrong"})
    assert code == 1
    assert found[("schematic", "credentials")] == [False] and found[("hubspot", "credentials")] == [False]
    assert all(found[("salesforce", "object access")])
    text = invoke(harness, "doctor", env={"SCHEMATIC_API_KEY": "", "HUBSPOT_ACCESS_TOKEN": "wrong"}).output
    assert (
        "SCHEMATIC_API_KEY is not set" in text and "HUBSPOT_ACCESS_TOKEN was rejected" in text and "wrong" not in text
    )


def test_a_missing_scope_is_named(harness: Harness) -> None:
    """HubSpot answering 403 to the deals read: the scopes line names crm.objects.deals.read."""
    harness.sb.hubspot.fail_next(403, path_prefix="/crm/v3/objects/deals")
    code, found = checks(harness)
    assert code == 1 and found[("hubspot", "scopes")] == [False, True]


def test_an_unreachable_crm_is_one_failed_line(harness: Harness) -> None:
    """HubSpot's URL pointing at a closed port: its reachability fails naming HUBSPOT_API_URL."""
    result = invoke(harness, "doctor", env={"HUBSPOT_API_URL": f"http://127.0.0.1:{free_port()}"})
    assert result.exit_code == 1
    (line,) = [line for line in result.output.splitlines() if line.startswith("✗")]
    assert "hubspot reachability" in line and "HUBSPOT_API_URL" in line


def test_hubspot_rate_limit_headroom_is_reported_from_its_headers(harness: Harness) -> None:
    """The HubSpot rate-limit line reads the daily budget and the 10 s window from the answers' headers."""
    lines = [line for line in invoke(harness, "doctor").output.splitlines() if "hubspot rate limit" in line]
    assert len(lines) == 1 and lines[0].startswith("✓"), lines
    assert re.search(r"hubspot rate limit: 249,9\d\d of 250,000 daily calls left; \d+ of 100 per 10 s$", lines[0])


def test_a_nearly_spent_daily_hubspot_budget_fails_the_check(harness: Harness) -> None:
    """Under 10% of the daily budget left: the rate-limit check fails (exit 1) and says what happens next."""
    harness.sb.hubspot.set_api_usage(daily_limit=1_000, used_today=990)
    code, found = checks(harness)
    assert code == 1 and found[("hubspot", "rate limit")] == [False]
    text = invoke(harness, "doctor").output
    assert "of 1,000 daily calls left" in text and "until it resets at midnight" in text


def test_a_nearly_spent_10_second_window_is_a_warning_not_a_failure(harness: Harness) -> None:
    """Little left of the 10 s window (other apps are busy): the check passes with a warning line."""
    harness.sb.hubspot.set_api_usage(interval_limit=2)
    result = invoke(harness, "doctor")
    assert result.exit_code == 0, result.output
    assert "0 of 2 per 10 s" in result.output and "warning: only 0 of 2 calls left in this 10 s window" in result.output
