"""`crmsync schema features|traits|properties|stages` list what exists to map, against the sandbox,
for both CRMs: the name to write, the type, the options with their labels beside their values."""

from __future__ import annotations

import json
from typing import Any

from crmsync.sandbox.schematic_traits import add_trait
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import invoke


def _json(harness: Harness, *args: str) -> dict[str, Any]:
    """One `crmsync schema … --json` document (exit 0 required)."""
    result = invoke(harness, "schema", *args, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["format_version"] == 1
    return dict(doc)


def test_features_list_id_flag_key_name_type_and_the_types_a_rule_may_give(harness: Harness) -> None:
    """Each Schematic feature with what a rule's feature: and type: may say."""
    features = {f["id"]: f for f in _json(harness, "features")["features"]}
    assert features["feat_api_calls"] == {
        "id": "feat_api_calls", "flag_key": "api-calls", "name": "API calls", "feature_type": "event",
        "write": "api-calls", "types": ["numeric", "unlimited"],
    }  # fmt: skip
    assert features["feat_sso"]["types"] == ["boolean"]


def test_traits_list_each_company_trait(harness: Harness) -> None:
    """A trait defined in Schematic is listed with its id, name and type; none at all is said plainly."""
    assert "Schematic has no company traits" in invoke(harness, "schema", "traits").stdout
    trait_id = add_trait(harness.sb.schematic, "Seat count")
    assert _json(harness, "traits")["traits"] == [
        {"id": trait_id, "name": "Seat count", "trait_type": "number", "write": "Seat count"}
    ]


def test_hubspot_properties_show_enumeration_labels_beside_their_values(harness: Harness) -> None:
    """HubSpot's properties API (through hubspot-api-client): each property's name, label, type and options."""
    props = {p["name"]: p for p in _json(harness, "properties", "--source", "hubspot")["properties"]["hubspot"]}
    assert props["support_tier"]["options"] == [
        {"value": "tier_1", "label": "Standard"}, {"value": "tier_2", "label": "Premium"},
        {"value": "tier_3", "label": "Enterprise 24/7"},
    ]  # fmt: skip
    assert props["support_tier"]["label"] == "Support tier" and props["support_tier"]["kind"] == "choice"
    assert props["contract_end_date"]["type"] == "date" and props["api_call_limit"]["kind"] == "number"
    assert {"value": "ent_won", "label": "Won"} in props["dealstage"]["options"]


def test_salesforce_fields_show_picklist_labels_beside_their_values(harness: Harness) -> None:
    """Salesforce's Opportunity describe (through simple-salesforce): custom fields with types and picklists."""
    fields = {f["name"]: f for f in _json(harness, "properties", "--source", "salesforce")["properties"]["salesforce"]}
    assert fields["Support_Tier__c"]["options"][2] == {"value": "T3", "label": "Enterprise 24/7"}
    assert fields["Seats__c"]["type"] == "double" and fields["Contract_End_Date__c"]["kind"] == "date"


def test_stages_for_both_crms(harness: Harness) -> None:
    """HubSpot pipelines with their stages, Salesforce's StageName values and record types; ids beside labels."""
    doc = _json(harness, "stages")["stages"]  # both: the sample mappings read both CRMs
    enterprise = next(p for p in doc["hubspot"]["pipelines"] if p["id"] == "enterprise")
    assert enterprise["label"] == "Enterprise" and {"id": "ent_won", "label": "Won"} in enterprise["stages"]
    assert {"id": "Closed Won", "label": "Closed Won"} in doc["salesforce"]["stages"]
    assert doc["salesforce"]["record_types"] == []


def test_text_output_is_a_table_of_names_to_write(harness: Harness) -> None:
    """Without --json, one aligned row per property, options as `value (label)`."""
    text = invoke(harness, "schema", "properties", "--source", "hubspot").stdout
    assert text.splitlines()[1].split() == ["NAME", "(write)", "LABEL", "TYPE", "USE", "IN", "A", "RULE", "OPTIONS",
                                            "(value", "(label))"]  # fmt: skip
    row = next(line for line in text.splitlines() if line.startswith("support_tier "))
    assert row.endswith("tier_1 (Standard), tier_2 (Premium), tier_3 (Enterprise 24/7)")


def test_an_unknown_source_is_one_line_and_exit_2(harness: Harness) -> None:
    """`--source pipedrive` names the CRMs crmsync reads; no traceback."""
    result = invoke(harness, "schema", "stages", "--source", "pipedrive")
    assert result.exit_code == 2
    assert "crmsync: --source 'pipedrive' is not a CRM crmsync reads; use hubspot or salesforce" in result.output
