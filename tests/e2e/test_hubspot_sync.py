"""CRM deals → Schematic overrides through plan/apply on the sandbox (the walking skeleton)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crmsync.app import mapped_context
from crmsync.domain import Action, CompanyId
from crmsync.service.planning import build_plan
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import hubspot_only, owned_by_crmsync, written_values

MANUAL_NOTE = "Granted by hand by support (ticket 4411)"


def manual(h: Harness) -> dict[str, Any]:
    (record,) = [r for r in h.sb.schematic.overrides.values() if r["notes"] and r["notes"][0]["note"] == MANUAL_NOTE]
    return record


def test_first_apply_creates_exactly_the_expected_overrides(harness: Harness) -> None:
    """The first apply creates one override per company and feature the counted deals grant."""
    _, report = harness.apply()
    assert report.ok
    got = written_values(harness)
    assert got == {
        ("comp_acme", "feat_seats"): ("numeric", 50, None, None, None),
        ("comp_acme", "feat_sso"): ("boolean", None, True, None, None),
        ("comp_acme", "feat_api_calls"): ("numeric", 500000, None, "current_month", "2027-12-31T23:59:59Z"),
        ("comp_initech", "feat_seats"): ("numeric", 250, None, None, None),
        ("comp_umbrella", "feat_sso"): ("boolean", None, True, None, None),
        ("comp_umbrella", "feat_api_calls"): ("numeric", 250000, None, "current_month", "2027-06-30T23:59:59Z"),
        ("comp_hooli", "feat_seats"): ("numeric", 75, None, None, None),
        ("comp_wayne", "feat_seats"): ("numeric", 120, None, None, None),
        ("comp_wayne", "feat_sso"): ("boolean", None, True, None, None),
        ("comp_wayne", "feat_api_calls"): ("numeric", 1000000, None, "current_month", "2027-09-30T23:59:59Z"),
    }


def test_every_written_override_carries_a_note_naming_crmsync_the_crm_the_deals_and_the_rule(harness: Harness) -> None:
    """The note names crmsync, the CRM, the deal ids and the rule's file:line."""
    harness.apply()
    note = owned_by_crmsync(harness)[("comp_acme", "feat_api_calls")]["notes"][-1]["note"]
    assert "crmsync" in note and "hubspot deals 1001, 1014" in note and "hubspot.yaml:" in note


def test_second_apply_without_crm_change_makes_zero_write_calls(harness: Harness) -> None:
    """A second apply with no CRM change writes nothing."""
    harness.apply()
    writes = harness.sb.schematic.write_count
    run, report = harness.apply()
    assert run.plan.is_empty and report.results == []
    assert harness.sb.schematic.write_count == writes


def test_a_deal_moved_out_of_the_counted_stages_has_its_overrides_deleted(harness: Harness) -> None:
    """Moving a won deal to lost deletes the overrides only it granted."""
    harness.apply()
    harness.sb.hubspot.update_deal("1009", dealstage="closedlost")
    run, report = harness.apply()
    assert [(c.action, c.company_id, c.feature_id) for c in run.plan.changes] == [
        (Action.DELETE, "comp_umbrella", "feat_api_calls")
    ]
    assert report.ok and ("comp_umbrella", "feat_api_calls") not in owned_by_crmsync(harness)
    assert ("comp_umbrella", "feat_sso") in owned_by_crmsync(harness)


def test_an_amended_deal_updates_its_override_in_place(harness: Harness) -> None:
    """Changing a deal's seats updates the same override, not a new one."""
    harness.apply()
    before = owned_by_crmsync(harness)[("comp_acme", "feat_seats")]
    harness.sb.hubspot.update_deal("1001", seats_purchased="80")
    run, _ = harness.apply()
    assert [c.action for c in run.plan.changes] == [Action.UPDATE]
    after = owned_by_crmsync(harness)[("comp_acme", "feat_seats")]
    assert (after["id"], after["value_numeric"]) == (before["id"], 80)


def test_a_manual_edit_of_an_owned_override_is_restored(harness: Harness) -> None:
    """Someone edits crmsync's override by hand; the next apply puts the deal's value back."""
    harness.apply()
    record = owned_by_crmsync(harness)[("comp_hooli", "feat_seats")]
    harness.sb.schematic.update_override(record["id"], {"value_type": "numeric", "value_numeric": 5})
    run, _ = harness.apply()
    assert [(c.action, c.before.id if c.before else None) for c in run.plan.changes] == [(Action.UPDATE, record["id"])]
    assert owned_by_crmsync(harness)[("comp_hooli", "feat_seats")]["value_numeric"] == 75


def test_the_manual_override_is_never_touched(harness: Harness) -> None:
    """The override crmsync did not create is a conflict, never updated or deleted."""
    before = manual(harness)
    run, _ = harness.apply()
    assert [(c.company_id, c.feature_id, c.live.id) for c in run.plan.conflicts] == [
        ("comp_globex", "feat_seats", before["id"])
    ]
    harness.sb.hubspot.update_deal("1004", dealstage="closedlost")  # the mapping no longer wants Globex seats
    harness.apply()
    assert manual(harness) == before


def test_two_deals_for_one_company_combine_by_policy(harness: Harness) -> None:
    """Acme's deals (50 and 30 seats) give one override of 50 under `max`."""
    run = harness.plan()
    (seats,) = [c for c in run.plan.changes if (c.company_id, c.feature_id) == ("comp_acme", "feat_seats")]
    assert seats.after is not None and seats.after.value.value_numeric == 50
    assert [(s.value, d) for s, d in seats.after.provenance.deals] == [
        ("hubspot", "1001"),
        ("hubspot", "1002"),
        ("salesforce", "006000000000101AAA"),
    ]


def test_a_past_expiry_creates_nothing(harness: Harness) -> None:
    """Initech's API-calls deal expired in 2025: no override for it."""
    run = harness.plan()
    assert ("comp_initech", "feat_api_calls") not in {(c.company_id, c.feature_id) for c in run.plan.changes}


def test_a_bad_deal_value_is_reported_and_the_rest_proceed(harness: Harness) -> None:
    """Deal 1008's seats 'fifty' is an error naming the deal; its SSO override is still planned."""
    run = harness.plan()
    assert [(p.deal_id, p.rule.feature if p.rule else None) for p in run.plan.problems if p.deal_id == "1008"] == [
        ("1008", "seats")
    ]
    assert ("comp_umbrella", "feat_sso") in {(c.company_id, c.feature_id) for c in run.plan.changes}


def test_a_company_without_a_schematic_company_is_pending(harness: Harness) -> None:
    """HubSpot company 5006 and Salesforce account Oscorp have no Schematic company: pending, not errors."""
    run = harness.plan()
    assert [str(p.company) for p in run.plan.pending] == [
        "hubspot_company_id=5006",
        "salesforce_account_id=001000000000008AAA",
    ]


def test_the_plan_json_has_the_documented_shape(harness: Harness) -> None:
    """`plan --json` carries changes, summary, conflicts, pending and errors."""
    data = harness.plan().plan.to_json()
    assert data["summary"] == {"create": 10, "update": 0, "delete": 0}
    assert set(data["changes"][0]) >= {"action", "company_id", "feature_id", "before", "after", "reason"}
    assert {e["deal_id"] for e in data["errors"]} == {"1008", "1013", "006000000000103AAA"}
    assert len(data["conflicts"]) == 1 and len(data["pending"]) == 2


def test_an_expired_owned_override_stays_and_an_extension_updates_it_in_place(harness: Harness) -> None:
    """Past expiry: left in place, not re-created; the contract is extended: same override, new expiration."""
    harness.apply()
    record = owned_by_crmsync(harness)[("comp_umbrella", "feat_api_calls")]
    harness.sb.schematic.update_override(
        record["id"],
        {
            "value_type": "numeric",
            "value_numeric": 250000,
            "metric_period": "current_month",
            "expiration_date": "2026-01-31T23:59:59Z",
        },
    )
    harness.sb.hubspot.update_deal("1009", contract_end_date="2026-01-31")
    assert harness.plan().plan.is_empty
    harness.sb.hubspot.update_deal("1009", contract_end_date="2028-01-31")
    run, report = harness.apply()
    assert [(c.action, c.before.id if c.before else None) for c in run.plan.changes] == [(Action.UPDATE, record["id"])]
    after = owned_by_crmsync(harness)[("comp_umbrella", "feat_api_calls")]
    assert report.ok and after["expiration_date"] == "2028-01-31T23:59:59Z"


def test_a_scoped_plan_counts_stages_written_in_another_case_as_the_full_plan_does(
    harness: Harness, tmp_path: Path
) -> None:
    """`stages: [ClosedWon, ENT_WON]` (HubSpot's ids are lower case): a plan scoped to Acme plans
    exactly the full plan's changes for Acme."""
    hub = hubspot_only(harness, tmp_path)
    mapping = hub.settings.mappings / "hubspot.yaml"
    mapping.write_text(mapping.read_text().replace("stages: [closedwon, ent_won]", "stages: [ClosedWon, ENT_WON]"))
    full = [c for c in hub.plan().plan.changes if c.company_id == "comp_acme"]
    with mapped_context(None, hub.settings) as (ctx, maps):
        scoped = build_plan(ctx, maps, scope={CompanyId("comp_acme")})
    assert len(full) == 3 and list(scoped.plan.changes) == full
