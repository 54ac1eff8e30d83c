"""Guards that fit small customers, through the real CLI on the sandbox: a small CRM losing most of
its few deals removes their overrides; a mass change above the floor is refused in plan,
`--detailed-exitcode` and apply; a period change that lowers limits per day is a mass downgrade."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from crmsync.cli.demo import sample_mappings
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import grow_to_twenty_then_lose_six, hubspot_only, invoke, owned_count

ACME, WAYNE_RD, OSCORP = "006000000000101AAA", "006000000000103AAA", "006000000000106AAA"


def salesforce_only(h: Harness, tmp_path: Path) -> Harness:
    """The same sandbox and database with only the sample's Salesforce mapping file."""
    maps = tmp_path / "salesforce-only"
    maps.mkdir()
    shutil.copy(sample_mappings() / "salesforce.yaml", maps / "salesforce.yaml")
    return Harness(h.sb, replace(h.settings, mappings=maps))


def test_three_deals_becoming_one_removes_the_lost_deals_overrides(harness: Harness, tmp_path: Path) -> None:
    """3 won opportunities, 2 then lost: under the floor, so their overrides are deleted (exit 0), not withheld."""
    sf = harness.sb.salesforce
    assert sf is not None
    sf.update_opportunity(WAYNE_RD, StageName="Closed Lost", IsWon=False)  # the org now has 3 won opportunities
    small = salesforce_only(harness, tmp_path)
    assert invoke(small, "apply", "--yes").exit_code == 0
    acme = len(harness.sb.schematic.overrides_for("comp_acme", "feat_seats"))
    assert acme == 1
    for opp in (ACME, OSCORP):
        sf.update_opportunity(opp, StageName="Closed Lost", IsWon=False)
    result = invoke(small, "apply", "--yes")
    assert result.exit_code == 0, result.output
    assert "withheld" not in result.output
    assert harness.sb.schematic.overrides_for("comp_acme", "feat_seats") == []
    assert harness.sb.schematic.overrides_for("comp_acme", "feat_sso") == []
    assert harness.sb.schematic.overrides_for("comp_wayne", "feat_seats") != []  # its won deal still counts


def test_a_mass_change_above_the_floor_is_refused_in_plan_detailed_exitcode_and_apply(
    harness: Harness, tmp_path: Path
) -> None:
    """6 of 20 owned deleted: plan shows the refusal, --detailed-exitcode answers 2, apply exits 3, zero writes."""
    hub = hubspot_only(harness, tmp_path)
    grow_to_twenty_then_lose_six(hub)
    writes = hub.sb.schematic.write_count
    plan = invoke(hub, "plan", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.output
    assert "6 of 20 owned overrides (30%) would be deleted or downgraded" in plan.output
    applied = invoke(hub, "apply", "--yes")
    assert applied.exit_code == 3, applied.output
    assert hub.sb.schematic.write_count == writes and owned_count(hub) == 20


API_PER_DAY = """source: hubspot
deals:
  stages: [closedwon]
company:
  key: hubspot_company_id
overrides:
  - feature: API calls
    type: numeric
    from: api_call_limit
    metric_period: current_day
"""


def test_100_a_day_becoming_1000_a_month_across_many_companies_is_refused(harness: Harness, tmp_path: Path) -> None:
    """A mapping edit from 100/day to 1,000/month (33/day) for 20 companies is a mass downgrade: exit 3, no writes."""
    maps = tmp_path / "api"
    maps.mkdir()
    (maps / "hubspot.yaml").write_text(API_PER_DAY)
    api = Harness(harness.sb, replace(harness.settings, mappings=maps))
    for n in range(20):
        ref = str(7001 + n)
        harness.sb.hubspot.add_company(ref, f"Company {ref}")
        harness.sb.schematic.add_company(f"Company {ref}", {"hubspot_company_id": ref})
        properties = {"dealname": f"{ref} api", "pipeline": "default", "dealstage": "closedwon",
                      "closedate": "2026-05-01T12:00:00Z", "api_call_limit": "100"}  # fmt: skip
        harness.sb.hubspot.add_deal(properties=properties, company_ids=[ref])
    first = invoke(api, "apply", "--yes")
    assert first.exit_code == 0, first.output
    owned, writes = owned_count(api), harness.sb.schematic.write_count
    assert owned >= 20
    edited = API_PER_DAY.replace("metric_period: current_day", "multiply: 10\n    metric_period: current_month")
    (maps / "hubspot.yaml").write_text(edited)
    plan = invoke(api, "plan", "--detailed-exitcode")
    assert (
        plan.exit_code == 2
        and f"{owned} of {owned} owned overrides (100%) would be deleted or downgraded" in plan.output
    )
    refused = invoke(api, "apply", "--yes")
    assert refused.exit_code == 3, refused.output
    assert harness.sb.schematic.write_count == writes
