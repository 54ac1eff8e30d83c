"""Drift on the sandbox: an override crmsync owns is edited or deleted by hand, and the mapping's
`drift:` policy decides. overwrite restores, keep respects the edit (and releases a deleted
override), fail makes apply refuse with exit 3 and nothing written; all of it reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crmsync.domain import Action
from crmsync.reconcile.drift import DriftAction
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import assert_next_apply_writes_nothing, hubspot_with, invoke, ledger, the_override

HOOLI = ("comp_hooli", "feat_seats")  # 75 seats from deals 1010 and 1011


def edit_hooli_seats(h: Harness, seats: int = 5) -> str:
    """Apply, then change crmsync's Hooli seats override by hand; its id."""
    assert invoke(h, "apply", "--yes").exit_code == 0
    record = the_override(h, *HOOLI)
    h.sb.schematic.update_override(record["id"], {"value_type": "numeric", "value_numeric": seats})
    return str(record["id"])


def delete_hooli_seats(h: Harness) -> str:
    """Apply, then delete crmsync's Hooli seats override by hand; its id."""
    assert invoke(h, "apply", "--yes").exit_code == 0
    record = the_override(h, *HOOLI)
    h.sb.schematic.delete_override(record["id"])
    return str(record["id"])


@pytest.fixture
def hub(harness: Harness, tmp_path: Path) -> Harness:
    """The HubSpot sample mapping with the default policy (drift: overwrite)."""
    return hubspot_with(harness, tmp_path)


def test_overwrite_restores_an_edited_override_and_reports_the_drift(hub: Harness) -> None:
    """Edited 75 → 5: the plan shows `≠ drift` and the JSON entry; apply puts 75 back in place."""
    override_id = edit_hooli_seats(hub)
    text = invoke(hub, "plan").output
    line = f"≠ drift: Hooli / Seats: override {override_id} edited by hand: 75 → 5; would restore (drift: overwrite)"
    assert line in text
    (entry,) = json.loads(invoke(hub, "plan", "--json").stdout)["drift"]
    assert (entry["override_id"], entry["policy"], entry["action"]) == (override_id, "overwrite", "restore")
    assert (entry["last_applied"]["value_numeric"], entry["live"]["value_numeric"]) == (75, 5)
    assert invoke(hub, "apply", "--yes").exit_code == 0
    assert (the_override(hub, *HOOLI)["id"], the_override(hub, *HOOLI)["value_numeric"]) == (override_id, 75)
    assert_next_apply_writes_nothing(hub)


def test_keep_leaves_an_edited_override_and_reports_it_every_run(harness: Harness, tmp_path: Path) -> None:
    """drift: keep: no write for it, the edit stays, and each plan (and status) still reports it."""
    hub = hubspot_with(harness, tmp_path, top="drift: keep")
    override_id = edit_hooli_seats(hub)
    assert_next_apply_writes_nothing(hub)
    assert the_override(hub, *HOOLI)["value_numeric"] == 5
    (drift,) = hub.plan().plan.drift
    assert (drift.override_id, drift.action) == (override_id, DriftAction.KEEP)
    status = json.loads(invoke(hub, "status", "--json").stdout)
    assert [(d["override_id"], d["action"]) for d in status["drift"]] == [(override_id, "keep")]
    assert "≠ drift: Hooli / Seats" in invoke(hub, "status").output


def test_keep_still_deletes_an_edited_override_no_deal_grants(harness: Harness, tmp_path: Path) -> None:
    """drift: keep respects the edit, not the grant: when the deals stop granting it, it is deleted."""
    hub = hubspot_with(harness, tmp_path, top="drift: keep")
    override_id = edit_hooli_seats(hub)
    for deal in ("1010", "1011"):
        hub.sb.hubspot.update_deal(deal, dealstage="closedlost")
    run, report = hub.apply()
    assert [(c.action, c.before.id if c.before else None) for c in run.plan.changes] == [(Action.DELETE, override_id)]
    assert report.ok and hub.sb.schematic.overrides_for(*HOOLI) == []


def test_fail_makes_apply_exit_3_naming_the_override_with_zero_writes(harness: Harness, tmp_path: Path) -> None:
    """drift: fail: plan warns, apply refuses (exit 3) naming company, feature, override and policy."""
    hub = hubspot_with(harness, tmp_path, top="drift: fail")
    override_id = edit_hooli_seats(hub)
    writes = hub.sb.schematic.write_count
    assert "apply would refuse this plan" in invoke(hub, "plan").output
    refused = invoke(hub, "apply", "--yes", "--allow-mass-change")
    assert refused.exit_code == 3, refused.output
    assert f"Hooli / Seats (override {override_id}) was edited by hand: 75 → 5" in refused.output
    assert "drift: fail" in refused.output and f"crmsync release {override_id}" in refused.output
    assert hub.sb.schematic.write_count == writes and the_override(hub, *HOOLI)["value_numeric"] == 5


def test_a_saved_plan_with_drift_under_fail_is_refused_too(harness: Harness, tmp_path: Path) -> None:
    """`plan --out` then `apply FILE`: the same refusal, exit 3, nothing written."""
    hub = hubspot_with(harness, tmp_path, top="drift: fail")
    override_id = edit_hooli_seats(hub)
    assert invoke(hub, "plan", "--out", str(tmp_path / "plan.json")).exit_code == 0
    writes = hub.sb.schematic.write_count
    refused = invoke(hub, "apply", str(tmp_path / "plan.json"))
    assert refused.exit_code == 3 and f"(override {override_id}) was edited by hand" in refused.output
    assert hub.sb.schematic.write_count == writes


def test_a_rule_s_own_policy_beats_its_file_s(harness: Harness, tmp_path: Path) -> None:
    """File says fail, the seats rule says keep: the seats edit is kept and apply goes ahead."""
    hub = hubspot_with(harness, tmp_path, top="drift: fail", seats="drift: keep")
    edit_hooli_seats(hub)
    assert invoke(hub, "apply", "--yes").exit_code == 0
    assert the_override(hub, *HOOLI)["value_numeric"] == 5


def test_overwrite_recreates_an_override_deleted_by_hand(hub: Harness) -> None:
    """Deleted by hand: re-created with the deals' value, reported; the old ledger row is closed."""
    old_id = delete_hooli_seats(hub)
    run, report = hub.apply()
    assert [(d.override_id, d.live, d.action) for d in run.plan.drift] == [(old_id, None, DriftAction.RECREATE)]
    assert [c.action for c in run.plan.changes] == [Action.CREATE] and report.ok
    new = the_override(hub, *HOOLI)
    assert new["value_numeric"] == 75 and new["id"] != old_id and old_id not in ledger(hub)["active"]
    assert_next_apply_writes_nothing(hub)
    assert hub.plan().plan.drift == ()


def test_keep_releases_an_override_deleted_by_hand_and_never_recreates_it(harness: Harness, tmp_path: Path) -> None:
    """Deleted by hand under keep: the ledger row is released, nothing is created, then or later."""
    hub = hubspot_with(harness, tmp_path, top="drift: keep")
    old_id = delete_hooli_seats(hub)
    run, report = hub.apply()
    assert [(d.override_id, d.action) for d in run.plan.drift] == [(old_id, DriftAction.RELEASE)]
    assert report.ok and report.results == [] and old_id in ledger(hub)["released"]
    assert hub.sb.schematic.overrides_for(*HOOLI) == []
    hub.sb.hubspot.update_deal("1010", seats_purchased="90")  # the deals change: still not re-created
    assert_next_apply_writes_nothing(hub)
    assert hub.plan().plan.is_empty and hub.sb.schematic.overrides_for(*HOOLI) == []
