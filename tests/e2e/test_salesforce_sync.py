"""Salesforce opportunities drive overrides like HubSpot deals, and both CRMs combine per company."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from crmsync.cli import app
from crmsync.cli.demo import sample_mappings
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import owned_by_crmsync

ACME_SF_OPP = "006000000000101AAA"
WAYNE_OPP = "006000000000102AAA"


def test_a_company_with_a_hubspot_deal_and_a_salesforce_opportunity_gets_one_combined_override(
    harness: Harness,
) -> None:
    """Acme's HubSpot seats (50) and Salesforce seats (70) give one override of 70 naming both CRMs."""
    h = harness
    h.sb.salesforce.update_opportunity(ACME_SF_OPP, Seats__c=70)  # type: ignore[union-attr]
    _, report = h.apply()
    assert report.ok
    seats = [
        r
        for r in h.sb.schematic.overrides.values()
        if (r["company_id"], r["feature_id"]) == ("comp_acme", "feat_seats")
    ]
    assert len(seats) == 1 and seats[0]["value_numeric"] == 70
    note = seats[0]["notes"][-1]["note"]
    assert "hubspot deals 1001, 1002" in note and f"salesforce deal {ACME_SF_OPP}" in note


def test_won_then_lost_deletes_the_override(harness: Harness) -> None:
    """An opportunity moved from Closed Won to Closed Lost loses its overrides."""
    h = harness
    h.apply()
    h.sb.salesforce.update_opportunity(WAYNE_OPP, StageName="Closed Lost", IsWon=False)  # type: ignore[union-attr]
    run, report = h.apply()
    assert report.ok and {(c.action.value, c.company_id) for c in run.plan.changes} == {("delete", "comp_wayne")}
    assert not [k for k in owned_by_crmsync(h) if k[0] == "comp_wayne"]


def test_a_deleted_opportunity_deletes_its_override(harness: Harness) -> None:
    """An opportunity deleted in Salesforce (seen through queryAll) loses its overrides."""
    h = harness
    h.apply()
    h.sb.salesforce.delete_opportunity(WAYNE_OPP)  # type: ignore[union-attr]
    run, _ = h.apply()
    assert len(run.plan.changes) == 3 and not [k for k in owned_by_crmsync(h) if k[0] == "comp_wayne"]


def test_a_bad_opportunity_value_names_the_opportunity_id(harness: Harness) -> None:
    """Seats of 12.5 on one opportunity: that override is reported with the Opportunity Id; the rest proceed."""
    h = harness
    run = h.plan()
    assert [str(p) for p in run.plan.problems if p.deal_id == "006000000000103AAA"] == [
        "salesforce opportunity 006000000000103AAA: '12.5' is not a whole number "
        "(rule salesforce.yaml:10, feature 'seats')"  # relative to the mappings folder, not its absolute path
    ]
    assert ("comp_wayne", "feat_seats") in {(c.company_id, c.feature_id) for c in run.plan.changes}


def test_a_mapped_field_missing_on_opportunity_stops_before_any_write(harness: Harness, tmp_path: Path) -> None:
    """A field Opportunity does not have (describe): a located error with did-you-mean, exit 2, no writes."""
    maps = tmp_path / "maps"
    maps.mkdir()
    text = (sample_mappings() / "salesforce.yaml").read_text().replace("from: Seats__c", "from: Seatz__c")
    (maps / "salesforce.yaml").write_text(text)
    result = CliRunner().invoke(app, ["apply", "--yes", "--mappings", str(maps)], env=harness.env())
    assert result.exit_code == 2
    expected = f"{maps}/salesforce.yaml:12:11: unknown Opportunity field 'Seatz__c'; did you mean 'Seats__c'?"
    assert expected in result.output, result.output
    assert harness.sb.schematic.write_count == 0
