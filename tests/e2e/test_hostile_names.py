"""Hostile names through the real CLI on the sandbox: a Schematic company whose name holds a newline, an
ANSI escape and a right-to-left override, and a deal name with the same, reach `plan`, `apply`,
`explain`, `owned` and `status` escaped: no forged line, no raw escape or bidi character."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from crmsync.safe_text import UNSAFE_CATEGORIES
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import hubspot_only, invoke

NAME = "Evil\n- Acme Corp  Seats  20 → (deleted)\x1b[2J\u202eproC"
DEAL = "big\r\n\x1b[31mdeal\u2066"


@pytest.fixture
def hub(harness: Harness, tmp_path: Path) -> Harness:
    """The sample's HubSpot side plus a company and a deal with hostile names."""
    harness.sb.hubspot.add_company("6666", "Evil HubSpot")
    harness.sb.schematic.add_company(NAME, {"hubspot_company_id": "6666"})
    properties = {"dealname": DEAL, "pipeline": "default", "dealstage": "closedwon", "seats_purchased": "7"}
    harness.sb.hubspot.add_deal(properties={**properties, "closedate": "2026-05-01T12:00:00Z"}, company_ids=["6666"])
    return hubspot_only(harness, tmp_path)


def assert_clean(output: str) -> None:
    """No control, bidi or separator character besides line breaks; no line forged by the name."""
    assert [c for c in output.replace("\n", "") if unicodedata.category(c) in UNSAFE_CATEGORIES] == []
    assert not any(line.startswith("- Acme Corp") for line in output.splitlines()), output


def test_hostile_names_are_shown_escaped_everywhere(hub: Harness) -> None:
    """plan, apply, explain, owned and status show the names escaped (`\\n`, `\\x1b`, `\\u202e`)."""
    env = {"COLUMNS": "200", "CRMSYNC_LOG_LEVEL": "info"}
    plan = invoke(hub, "plan", env=env)
    assert plan.exit_code == 0, plan.output
    assert "+ Evil\\n- Acme Corp  Seats  20 → (deleted)\\x1b[2J\\u202eproC" in plan.output
    for args in (("apply", "--yes"), ("explain", "hubspot_company_id=6666"), ("owned",), ("status",)):
        result = invoke(hub, *args, env=env)
        assert result.exit_code == 0, (args, result.output)
        assert_clean(result.output)
    explained = invoke(hub, "explain", "hubspot_company_id=6666").output
    assert '"big\\r\\n\\x1b[31mdeal\\u2066"' in explained
