"""Blast-radius guards through the real CLI on the sandbox: a mass delete is refused with exit
3 and nothing written until --allow-mass-change, and a CRM that suddenly returns no deals
deletes nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.e2e.conftest import Harness
from tests.e2e.scenarios import (
    OWNED,
    grow_to_twenty_then_lose_six,
    hubspot_only,
    invoke,
    lose_every_deal,
    owned_count,
)

WITHHELD = re.compile(r"hubspot returned no deals \(the last successful apply read \d+\); (\d+) delete\(s\) of")


@pytest.fixture
def hub(harness: Harness, tmp_path: Path) -> Harness:
    """The sandbox with only the sample's HubSpot mapping (one source: counts are easy to reason about)."""
    return hubspot_only(harness, tmp_path)


def test_deleting_thirty_percent_is_refused_then_allowed_with_the_flag(hub: Harness) -> None:
    """6 of 20 owned overrides deleted: exit 3 naming numbers, limit and flag, zero writes; the flag applies it."""
    grow_to_twenty_then_lose_six(hub)
    writes = hub.sb.schematic.write_count

    refused = invoke(hub, "apply", "--yes")
    assert refused.exit_code == 3, refused.output
    assert (
        "crmsync: refusing to apply: 6 of 20 owned overrides (30%) would be deleted or downgraded; the limit is 10% "
        "when at least 5 are affected. Review with crmsync plan, then re-run with --allow-mass-change."
    ) in refused.output
    assert hub.sb.schematic.write_count == writes and owned_count(hub) == OWNED

    allowed = invoke(hub, "apply", "--yes", "--allow-mass-change")
    assert allowed.exit_code == 0, allowed.output
    assert owned_count(hub) == OWNED - 6 and hub.sb.schematic.write_count == writes + 6


def test_plan_warns_before_apply_refuses(hub: Harness) -> None:
    """`crmsync plan` shows that apply would refuse, and still exits 0 (it writes nothing anyway)."""
    grow_to_twenty_then_lose_six(hub)
    result = invoke(hub, "plan")
    assert result.exit_code == 0 and "apply would refuse this plan: refusing to apply: 6 of 20" in result.output


def test_a_refused_apply_is_recorded_as_refused(hub: Harness) -> None:
    """The refused run appears in `crmsync status` with its counts and reason."""
    grow_to_twenty_then_lose_six(hub)
    invoke(hub, "apply", "--yes")
    status = invoke(hub, "status")
    assert "refused" in status.output and "6 delete" in status.output


def test_a_crm_returning_no_deals_deletes_nothing_and_says_so(hub: Harness) -> None:
    """Zero deals where the last apply read some: every delete is withheld and said to be, never "No changes";
    plan --detailed-exitcode answers 2, apply exits 3, nothing is written."""
    assert invoke(hub, "apply", "--yes").exit_code == 0
    owned, writes = owned_count(hub), hub.sb.schematic.write_count
    lose_every_deal(hub)
    plan = invoke(hub, "plan", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.output
    assert f"{owned} change(s) withheld by the shrink guard: hubspot returned no deals" in plan.output
    assert json.loads(invoke(hub, "plan", "--json").stdout)["withheld"] == owned
    result = invoke(hub, "apply", "--yes")
    assert result.exit_code == 3, result.output
    found = WITHHELD.search(result.output)
    assert found and int(found.group(1)) == owned, result.output
    assert "already matches" not in result.output and "No changes:" not in result.output
    assert hub.sb.schematic.write_count == writes and owned_count(hub) == owned


def test_withheld_deletes_stay_withheld_until_allowed(hub: Harness) -> None:
    """The next run still withholds them (the baseline is kept); --allow-mass-change deletes them all."""
    invoke(hub, "apply", "--yes")
    owned = owned_count(hub)
    lose_every_deal(hub)
    invoke(hub, "apply", "--yes")
    again = invoke(hub, "apply", "--yes")
    assert WITHHELD.search(again.output) and owned_count(hub) == owned
    allowed = invoke(hub, "apply", "--yes", "--allow-mass-change")
    assert allowed.exit_code == 0, allowed.output
    assert owned_count(hub) == 0


def test_a_stage_typo_is_a_located_error_before_any_write(hub: Harness) -> None:
    """A stage HubSpot's pipelines do not have: plan and apply stop at its file:line with did-you-mean, exit 2."""
    invoke(hub, "apply", "--yes")
    mapping = hub.settings.mappings / "hubspot.yaml"
    mapping.write_text(mapping.read_text().replace("stages: [closedwon, ent_won]", "stages: [closedwon_typo]"))
    writes = hub.sb.schematic.write_count
    for command in ("plan", "apply"):
        result = invoke(hub, command, "--yes") if command == "apply" else invoke(hub, command)
        assert result.exit_code == 2, result.output
        assert f"{mapping}:6:12: unknown stage 'closedwon_typo'" in result.output
        assert "did you mean 'closedwon'?" in result.output
    assert hub.sb.schematic.write_count == writes


def test_a_mapping_pointed_at_an_empty_stage_deletes_nothing(hub: Harness) -> None:
    """A mapping edit that selects a stage with no deals reads zero deals: its deletes are withheld."""
    from crmsync.sandbox.data import Stage

    invoke(hub, "apply", "--yes")
    hub.sb.hubspot.add_pipeline("renewals", "Renewals", [Stage("renewal_won", "Renewal won", True, 1.0)])
    mapping = hub.settings.mappings / "hubspot.yaml"
    text = mapping.read_text().replace("stages: [closedwon, ent_won]", "stages: [renewal_won]")
    mapping.write_text(text.replace("pipelines: [default, enterprise]", "pipelines: [renewals]"))
    writes = hub.sb.schematic.write_count
    result = invoke(hub, "apply", "--yes")
    assert result.exit_code == 3 and WITHHELD.search(result.output), result.output
    assert hub.sb.schematic.write_count == writes
