"""`crmsync explain` and the plan's entitlement warnings, on the sandbox with its sample plans
(Starter: 20 seats, no SSO; Growth: 100 seats, SSO; Acme, Globex, Umbrella, Hooli on Starter)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import Harness
from tests.e2e.scenarios import invoke

SSO_FROM_DEAL = """\
source: hubspot
deals: {pipelines: [default, enterprise], stages: [closedwon, ent_won]}
company: {key: hubspot_company_id}
overrides:
  - feature: SSO
    type: boolean
    from: sso_addon
    parse: text          # a text property holding yes/no: read as a boolean
"""


def sso_mappings(tmp_path: Path) -> Path:
    """A mapping folder whose SSO rule copies the deal's yes/no, so `false` becomes an override."""
    folder = tmp_path / "maps"
    folder.mkdir()
    (folder / "hubspot.yaml").write_text(SSO_FROM_DEAL)
    return folder


def test_explain_traces_each_override_to_its_deals_and_rule(harness: Harness) -> None:
    """`explain comp_acme` names deal 1001 with its stage and close date, and the rule's file:line."""
    result = invoke(harness, "explain", "comp_acme")
    assert result.exit_code == 0, result.output
    assert "Acme Corp (comp_acme)" in result.output
    assert 'hubspot deal 1001 "Acme — 50 seats, SSO, 500k API calls", closedwon, closed 2026-01-15' in result.output
    assert "(rule hubspot.yaml:" in result.output
    assert "plan: + create 50:" in result.output


def test_explain_accepts_a_company_key(harness: Harness) -> None:
    """`explain hubspot_company_id=5001` explains the same company as its id."""
    result = invoke(harness, "explain", "hubspot_company_id=5001")
    assert result.exit_code == 0, result.output
    assert "Acme Corp (comp_acme)" in result.output and "hubspot deal 1001" in result.output


def test_explain_says_why_counted_deals_gave_nothing(harness: Harness) -> None:
    """Deal 1002 counted but its SSO rule's `when` does not hold: explain says so."""
    result = invoke(harness, "explain", "comp_acme")
    assert 'hubspot deal 1002 "Acme — 30 seats" → SSO (hubspot.yaml:' in result.output
    assert "`when` on 'sso_addon' does not hold" in result.output


def test_explain_shows_live_overrides_with_their_ownership(harness: Harness) -> None:
    """After apply, Acme's overrides are owned by crmsync; Globex's manual one is not, and is a conflict."""
    harness.apply()
    acme = json.loads(invoke(harness, "explain", "comp_acme", "--json").stdout)
    seats = next(f for f in acme["features"] if f["feature_id"] == "feat_seats")
    assert [o["owned_by_crmsync"] for o in seats["live"]] == [True] and seats["changes"] == []
    assert any(d["deal"]["id"] == "1001" and d["rule"].endswith("hubspot.yaml:10") for d in seats["deals"])
    globex = invoke(harness, "explain", "comp_globex")
    assert "not created by crmsync" in globex.output and "conflict" in globex.output


def test_explain_of_an_unknown_company_exits_1_with_one_line(harness: Harness) -> None:
    """A key no Schematic company carries: one line saying so, exit 1, no traceback."""
    result = invoke(harness, "explain", "hubspot_company_id=5006")
    assert result.exit_code == 1
    assert "no Schematic company has the key hubspot_company_id=5006" in result.output
    assert "Traceback" not in result.output


def test_an_override_below_the_plan_warns_in_text_and_json(harness: Harness) -> None:
    """Acme (Starter, 20 seats) buying 10 seats: the plan says the override has no effect."""
    for deal in ("1001", "1002"):
        harness.sb.hubspot.update_deal(deal, seats_purchased="10")
    assert harness.sb.salesforce is not None
    harness.sb.salesforce.update_opportunity("006000000000101AAA", Seats__c=10)
    text = invoke(harness, "plan")
    assert "Acme Corp / Seats: the new override (10) is less generous than plan Starter's 20" in text.output
    warnings = [w["message"] for w in json.loads(invoke(harness, "plan", "--json").stdout)["warnings"]]
    assert any(w.startswith("Acme Corp / Seats: the new override (10)") and "no effect" in w for w in warnings)


def test_a_false_sso_override_warns_that_it_revokes_the_plans_sso(harness: Harness, tmp_path: Path) -> None:
    """Initech (Growth, SSO on) with sso_addon false: revokes; Globex (Starter, SSO off): changes nothing."""
    harness.sb.hubspot.update_deal("1006", sso_addon="false")
    result = invoke(harness, "plan", "--json", "--mappings", str(sso_mappings(tmp_path)))
    warnings = [w["message"] for w in json.loads(result.stdout)["warnings"] if w["kind"] == "entitlement"]
    assert any(w.startswith("Initech / SSO: the new override (off) revokes SSO, which plan Growth grants")
               for w in warnings)  # fmt: skip
    assert any(w.startswith("Globex / SSO: the new override (off) grants the same as plan Starter's off")
               for w in warnings)  # fmt: skip


def test_entitlements_are_read_once_per_plan_version(harness: Harness, tmp_path: Path) -> None:
    """Five companies on two plans: two GET /plan-entitlements calls, not one per company."""
    harness.sb.hubspot.update_deal("1006", sso_addon="false")
    invoke(harness, "plan", "--mappings", str(sso_mappings(tmp_path)))
    calls = [r for r in harness.sb.schematic.requests if r.path == "/plan-entitlements"]
    assert sorted(r.first("plan_version_id") for r in calls) == ["plvr_growth", "plvr_starter"]


def test_fail_on_warning_exits_1_only_when_the_plan_warns(harness: Harness, tmp_path: Path) -> None:
    """`plan --fail-on-warning`: 0 for the sample (no warning), 1 once a warning appears."""
    assert invoke(harness, "plan", "--fail-on-warning").exit_code == 0
    result = invoke(harness, "plan", "--fail-on-warning", "--mappings", str(sso_mappings(tmp_path)))
    assert result.exit_code == 1 and "warning:" in result.output
