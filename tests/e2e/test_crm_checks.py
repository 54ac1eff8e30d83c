"""`validate`, `plan` and `apply` check the CRM side online before any write: HubSpot properties and
pipelines, Salesforce describe, the Schematic company key and traits; every problem in one run."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmsync.sandbox.schematic_traits import add_trait
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import edited_sample, invoke

# (file, text replaced, replacement, the located message, the did-you-mean / answer)
TYPOS = {
    "hubspot-property": (
        "hubspot.yaml", "from: seats_purchased", "from: seats_purchase",
        "12:11: unknown deal property 'seats_purchase'", "did you mean 'seats_purchased'?",
    ),
    "hubspot-stage": (
        "hubspot.yaml", "stages: [closedwon, ent_won]", "stages: [closedwon, enterprise_won]",
        "6:23: unknown stage 'enterprise_won' (not in the chosen pipelines)", "did you mean 'ent_won'?",
    ),
    "hubspot-stage-label": (
        "hubspot.yaml", "stages: [closedwon, ent_won]", "stages: [Closed Won, ent_won]",
        "6:12: unknown stage 'Closed Won'", "'Closed Won' is the label of stage 'closedwon'",
    ),
    "hubspot-pipeline-label": (
        "hubspot.yaml", "pipelines: [default, enterprise]", "pipelines: [Sales Pipeline, enterprise]",
        "5:15: unknown pipeline 'Sales Pipeline'", "write 'default'",
    ),
    "company-key": (
        "hubspot.yaml", "key: hubspot_company_id", "key: hubspot_compnay_id",
        "8:8: no Schematic company carries the key 'hubspot_compnay_id'", "did you mean 'hubspot_company_id'?",
    ),
    "salesforce-field": (
        "salesforce.yaml", "from: API_Call_Limit__c", "from: API_Call_Limt__c",
        "20:11: unknown Opportunity field 'API_Call_Limt__c'", "did you mean 'API_Call_Limit__c'?",
    ),
    "salesforce-picklist-value": (
        "salesforce.yaml", "stages: [Closed Won]", "stages: [Closed Wonn]",
        "6:12: unknown stage 'Closed Wonn' (not in StageName's picklist)", "did you mean 'Closed Won'?",
    ),
    "expiry-from-a-number": (
        "hubspot.yaml", "expires_from: contract_end_date", "expires_from: api_call_limit",
        "22:19: deal property 'api_call_limit' holds number values", "this use needs a date",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(TYPOS))
def test_a_crm_side_typo_is_a_located_error_in_validate_plan_and_apply(
    harness: Harness, tmp_path: Path, name: str
) -> None:
    """Each CRM-side typo: `file:line:col` with did-you-mean, exit 2, zero writes, in validate, plan and apply."""
    file, old, new, where, hint = TYPOS[name]
    maps = edited_sample(tmp_path, file, old, new)
    for command in (["validate"], ["plan"], ["apply", "--yes"]):
        result = invoke(harness, *command, "--mappings", str(maps))
        assert result.exit_code == 2, (command, result.output)
        assert f"{maps / file}:{where}" in result.output and hint in result.output, result.output
    assert harness.sb.schematic.write_count == 0


def test_the_sample_mappings_pass_the_online_checks(harness: Harness) -> None:
    """The bundled mappings are valid against the bundled sandbox's CRMs and Schematic."""
    result = invoke(harness, "validate")
    assert result.exit_code == 0, result.output
    assert "valid and checked against Schematic and the CRMs" in result.output


def test_offline_validate_does_not_ask_the_crms(harness: Harness, tmp_path: Path) -> None:
    """`validate --offline` checks the files only: a property typo passes, and no CRM is called."""
    maps = edited_sample(tmp_path, *TYPOS["hubspot-property"][:3])
    before = len(harness.sb.hubspot.requests)
    result = invoke(harness, "validate", "--offline", "--mappings", str(maps))
    assert result.exit_code == 0, result.output
    assert len(harness.sb.hubspot.requests) == before


def test_structural_and_online_problems_are_reported_in_one_run(harness: Harness, tmp_path: Path) -> None:
    """A bad key (structural), an unknown feature and a property typo (online) all come out of one validate."""
    maps = edited_sample(tmp_path, "hubspot.yaml", "combine: max", "combine: maxx")
    text = (maps / "hubspot.yaml").read_text()
    (maps / "hubspot.yaml").write_text(
        text.replace("feature: SSO", "feature: SSOO").replace("from: seats_purchased", "from: seats_purchase")
    )
    result = invoke(harness, "validate", "--mappings", str(maps))
    assert result.exit_code == 2, result.output
    assert "combine: 'maxx' is not allowed" in result.output
    assert "unknown feature 'SSOO'; did you mean 'SSO'?" in result.output
    assert "unknown deal property 'seats_purchase'; did you mean 'seats_purchased'?" in result.output
    assert "3 problem(s)" in result.output


def test_a_company_key_no_company_carries_and_nothing_resembles_is_a_warning(harness: Harness, tmp_path: Path) -> None:
    """A key unlike any Schematic carries is a warning (companies may get it later), not an error."""
    maps = edited_sample(tmp_path, "hubspot.yaml", "key: hubspot_company_id", "key: zendesk_org")
    result = invoke(harness, "validate", "--mappings", str(maps))
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output and "no Schematic company carries the key 'zendesk_org'" in result.output


def test_record_types_in_an_org_without_them_is_a_located_error(harness: Harness, tmp_path: Path) -> None:
    """`record_types:` in an org without Opportunity record types: located, exit 2, before any query."""
    edit = ("stages: [Closed Won]", "stages: [Closed Won]\n  record_types: [Renewal]")
    maps = edited_sample(tmp_path, "salesforce.yaml", *edit)
    result = invoke(harness, "validate", "--mappings", str(maps))
    assert result.exit_code == 2, result.output
    assert f"{maps / 'salesforce.yaml'}:7:17: this Salesforce org has no Opportunity record types" in result.output


def test_record_types_are_checked_and_filter_in_an_org_with_them(harness: Harness, tmp_path: Path) -> None:
    """With record types, a misspelt one is a did-you-mean; the right one filters which opportunities count."""
    sf = harness.sb.salesforce
    assert sf is not None
    renewal = sf.add_record_type("Renewal")
    sf.update_opportunity("006000000000102AAA", RecordTypeId=renewal)  # Wayne's platform deal only
    typo = edited_sample(
        tmp_path / "a", "salesforce.yaml", "stages: [Closed Won]", "stages: [Closed Won]\n  record_types: [Renewl]"
    )
    result = invoke(harness, "validate", "--mappings", str(typo))
    assert result.exit_code == 2 and "unknown record type 'Renewl'; did you mean 'Renewal'?" in result.output
    good = edited_sample(
        tmp_path / "b", "salesforce.yaml", "stages: [Closed Won]", "stages: [Closed Won]\n  record_types: [Renewal]"
    )
    (good / "hubspot.yaml").unlink()
    run = harness.plan(good)
    seats = {
        c.company_id: c.after.value.value_numeric for c in run.plan.changes if c.after and c.feature_id == "feat_seats"
    }
    assert seats == {"comp_wayne": 120}, seats


def test_a_trait_given_by_name_resolves_and_a_wrong_one_is_a_did_you_mean(harness: Harness, tmp_path: Path) -> None:
    """`trait: Seat count` becomes the trait's id; `trait: Seat cont` is a located did-you-mean."""
    trait_id = add_trait(harness.sb.schematic, "Seat count")
    rule = "  - {feature: seats, type: trait, trait: Seat count}\n"
    maps = edited_sample(
        tmp_path / "a", "hubspot.yaml", "  - feature: seats\n    type: numeric\n    from: seats_purchased\n", rule
    )
    (maps / "salesforce.yaml").unlink()
    run = harness.plan(maps)
    traits = {c.after.value.value_trait_id for c in run.plan.changes if c.after and c.feature_id == "feat_seats"}
    assert traits == {trait_id}
    seats = "  - feature: seats\n    type: numeric\n    from: seats_purchased\n"
    wrong = edited_sample(tmp_path / "b", "hubspot.yaml", seats, rule.replace("Seat count", "Seat cont"))
    result = invoke(harness, "validate", "--mappings", str(wrong))
    assert result.exit_code == 2 and "unknown trait 'Seat cont'; did you mean 'Seat count'?" in result.output


def test_a_salesforce_org_without_record_types_syncs(harness: Harness) -> None:
    """The sample org has no Opportunity record types: apply works, and no query names RecordType."""
    sf = harness.sb.salesforce
    assert sf is not None and not sf.has_record_types
    result = invoke(harness, "apply", "--yes")
    assert result.exit_code == 0, result.output
    assert harness.sb.schematic.overrides_for("comp_wayne", "feat_seats") != []
    queries = [r.soql or "" for r in sf.requests if r.soql]
    assert queries and not any("RecordType" in q for q in queries)
