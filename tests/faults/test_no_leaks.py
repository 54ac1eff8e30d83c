"""Security as tests: secrets given through the environment or inside URLs never appear in output,
plan files, the state database or error text; deal and mapping values cannot widen a CRM query."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from crmsync.connectors.base import DealQuery
from crmsync.mapping.rules import DealFilter
from crmsync.sandbox.faults import Mode
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import invoke
from tests.faults import clients


def secrets_of(h: Harness) -> list[str]:
    """The secret values the harness's environment holds."""
    env = h.env()
    names = ("HUBSPOT_ACCESS_TOKEN", "SCHEMATIC_API_KEY", "SALESFORCE_ACCESS_TOKEN")
    return [env[n] for n in names if env.get(n)]


def test_secrets_never_reach_output_plan_files_or_the_state_database(
    harness: Harness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """plan --json, plan --out, apply, status, and failing runs: no secret in any of them."""
    caplog.set_level(logging.DEBUG)
    plan_file = tmp_path / "plan.json"
    outputs = [
        invoke(harness, "plan", "--json").output,
        invoke(harness, "plan", "--out", str(plan_file)).output,
        invoke(harness, "apply", "--yes").output,
        invoke(harness, "status").output,
    ]
    harness.sb.faults.schematic.add(Mode.ERROR_BEFORE, status=401)
    outputs.append(invoke(harness, "plan").output)  # the key rejected
    harness.sb.faults.schematic.clear()
    harness.sb.faults.hubspot.add(Mode.GARBLE)
    outputs.append(invoke(harness, "apply", "--yes").output)  # HubSpot unreadable
    database = Path(harness.settings.database_url.removeprefix("sqlite:///")).read_bytes()
    for secret in secrets_of(harness):
        for text in [*outputs, plan_file.read_text(), caplog.text]:
            assert secret not in text
        assert secret.encode() not in database


def test_a_deal_stage_with_a_quote_cannot_widen_the_salesforce_query(harness: Harness) -> None:
    """A stage `Closed Won' OR StageName != '` is one (unknown) stage to SOQL, not a wider filter."""
    injected = DealQuery((DealFilter(stages=("Closed Won' OR StageName != '",)),), ("Amount",))
    assert clients.salesforce(harness).read_deals(injected).deals == ()


def test_a_deal_stage_with_json_cannot_widen_the_hubspot_search(harness: Harness) -> None:
    """A stage holding JSON or quotes is one value of HubSpot's IN filter: no deal matches it."""
    injected = DealQuery((DealFilter(stages=('closedwon", "closedlost', "closedwon' OR 1=1 --")),), ())
    connector = clients.hubspot(harness)
    assert connector.read_deals(injected).deals == ()
    connector.close()
