"""The effective entitlement in the CLI: `explain` shows it, `plan` marks changes that do not change
what the customer can use, and `plan --json` gives each change's effective value before and after.
Sandbox sample plans: Starter (20 seats, no SSO) for Acme; Growth (100 seats, SSO) for Initech."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import Harness
from tests.e2e.scenarios import invoke
from tests.e2e.test_variants import varied


def test_plan_json_gives_each_change_its_effective_value_before_and_after(harness: Harness) -> None:
    """Acme's 50 seats: the customer could use Starter's 20, after the change 50 from the override."""
    plan = json.loads(invoke(harness, "plan", "--json").stdout)
    assert plan["changes"] and all("effective_before" in c and "effective_after" in c for c in plan["changes"])
    seats = next(c for c in plan["changes"] if (c["company_id"], c["feature_id"]) == ("comp_acme", "feat_seats"))
    before, after = seats["effective_before"], seats["effective_after"]
    assert before["value"]["value_numeric"] == 20 and before["granted_by"] == ["plan"]
    assert before["plan"]["name"] == "Starter" and before["override"] is None
    assert after["value"]["value_numeric"] == 50 and after["granted_by"] == ["override"]
    assert seats["changes_effective"] is True


def test_plan_marks_an_override_the_plan_outvotes_as_changing_nothing_the_customer_can_use(harness: Harness) -> None:
    """Acme buying 10 seats on Starter (20): text and JSON say the change does not change its use."""
    for deal in ("1001", "1002"):
        harness.sb.hubspot.update_deal(deal, seats_purchased="10")
    assert harness.sb.salesforce is not None
    harness.sb.salesforce.update_opportunity("006000000000101AAA", Seats__c=10)
    text = invoke(harness, "plan").output
    assert "= no effect on what the customer can use: 20 from plan Starter" in text
    plan = json.loads(invoke(harness, "plan", "--json").stdout)
    seats = next(c for c in plan["changes"] if (c["company_id"], c["feature_id"]) == ("comp_acme", "feat_seats"))
    assert seats["changes_effective"] is False and seats["effective_after"]["granted_by"] == ["plan"]
    initech = next(c for c in plan["changes"] if c["company_id"] == "comp_initech")
    assert initech["changes_effective"] is True  # 250 seats over Growth's 100: this one does change use


def test_explain_shows_plan_override_and_what_the_customer_can_use(harness: Harness) -> None:
    """After apply, Acme's seats: plan 20, override 50, the customer can use 50 from the override."""
    harness.apply()
    text = invoke(harness, "explain", "comp_acme").output
    assert "Effective entitlements" in text
    assert "Seats: plan 20 · add-ons - · override 50" in text
    assert "can use: 50 from override cmov_" in text
    story = json.loads(invoke(harness, "explain", "comp_acme", "--json").stdout)
    seats = next(f for f in story["effective"] if f["feature_id"] == "feat_seats")
    assert seats["plan"]["value_numeric"] == 20 and seats["override"]["value_numeric"] == 50
    assert seats["value"]["value_numeric"] == 50 and seats["granted_by"] == ["override"]
    api = next(f for f in story["effective"] if f["feature_id"] == "feat_api_calls")
    assert api["expires"] is not None and api["expires"].startswith("2027-12-31")


def test_explain_shows_a_planned_changes_effect(harness: Harness) -> None:
    """Before apply, explain says the planned create takes Acme's seats from Starter's 20 to 50."""
    text = invoke(harness, "explain", "comp_acme").output
    assert "can use: 20 from plan Starter → 50 from override" in text


def test_a_company_whose_plan_cannot_be_read_is_not_said_to_have_nothing(tmp_path: Path) -> None:
    """Umbrella is on a plan without version: its changes' effective values say the plan is not known;
    Acme's add-on (Seats pack, 60 seats) outvotes its 50 seats: no change in what it can use."""
    for h in varied("plans", tmp_path):
        plan = json.loads(invoke(h, "plan", "--json").stdout)
        umbrella = [c for c in plan["changes"] if c["company_id"] == "comp_umbrella"]
        assert umbrella and all(not c["effective_before"]["plans_known"] for c in umbrella)
        seats = next(c for c in plan["changes"] if (c["company_id"], c["feature_id"]) == ("comp_acme", "feat_seats"))
        assert seats["effective_before"]["plans_known"] and seats["changes_effective"] is False
        assert seats["effective_after"]["granted_by"] == ["add_on"]
        assert seats["effective_after"]["granted_by_names"] == ["Seats pack"]
