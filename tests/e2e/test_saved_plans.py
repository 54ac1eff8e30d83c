"""Saved plans and `--detailed-exitcode` through the real CLI on the sandbox: `apply FILE`
applies exactly the reviewed plan, and refuses with nothing written when Schematic moved
since or the file was edited."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crmsync.app import open_context
from crmsync.domain import RunStatus, Trigger
from crmsync.mapping.loader import load_mappings
from crmsync.service.context import PlanRun
from crmsync.service.reconcile import Mode, Request, reconcile
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import (
    assert_converged,
    grow_to_twenty_then_lose_six,
    hubspot_only,
    invoke,
    ledger,
    owned_count,
)


@pytest.fixture
def hub(harness: Harness, tmp_path: Path) -> Harness:
    """The sandbox with only the sample's HubSpot mapping."""
    return hubspot_only(harness, tmp_path)


def hooli_seats_to_ninety(h: Harness, path: Path) -> dict[str, Any]:
    """Apply the sample, raise Hooli's deal to 90 seats, save the plan; the plan file's object."""
    assert invoke(h, "apply", "--yes").exit_code == 0
    h.sb.hubspot.update_deal("1010", seats_purchased="90")
    result = invoke(h, "plan", "--out", str(path))
    assert result.exit_code == 0 and f"Saved the plan to {path}" in result.output, result.output
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def the_update(doc: dict[str, Any]) -> dict[str, Any]:
    """The plan file's one change (Hooli's seats, 75 → 90)."""
    (change,) = doc["changes"]
    assert change["action"] == "update" and change["company"] == "Hooli"
    return dict(change)


def test_a_saved_plan_applies_when_nothing_changed(hub: Harness, tmp_path: Path) -> None:
    """Nothing moved since `plan --out`: `apply FILE` applies exactly it, without asking, and exits 0."""
    doc = hooli_seats_to_ninety(hub, tmp_path / "plan.json")
    override_id = the_update(doc)["before"]["id"]
    result = invoke(hub, "apply", str(tmp_path / "plan.json"))
    assert result.exit_code == 0, result.output
    assert hub.sb.schematic.overrides[override_id]["value_numeric"] == 90
    assert invoke(hub, "plan", "--detailed-exitcode").exit_code == 0


def test_a_saved_plan_is_refused_after_the_override_it_changes_was_edited(hub: Harness, tmp_path: Path) -> None:
    """Someone edits the override between plan and apply: exit 3 naming it, nothing written."""
    doc = hooli_seats_to_ninety(hub, tmp_path / "plan.json")
    override_id = the_update(doc)["before"]["id"]
    hub.sb.schematic.update_override(override_id, {"value_numeric": 80})
    writes = hub.sb.schematic.write_count
    result = invoke(hub, "apply", str(tmp_path / "plan.json"))
    assert result.exit_code == 3, result.output
    assert f"refusing to apply {tmp_path / 'plan.json'}: Schematic changed since the plan was made" in result.output
    assert f"override {override_id} (Hooli / Seats) was changed" in result.output
    assert "crmsync plan --out" in result.output
    assert hub.sb.schematic.write_count == writes and hub.sb.schematic.overrides[override_id]["value_numeric"] == 80


def test_a_saved_plan_is_refused_after_the_override_it_changes_was_released(hub: Harness, tmp_path: Path) -> None:
    """`crmsync release` between plan and apply: exit 3 naming the override, nothing written, still released."""
    doc = hooli_seats_to_ninety(hub, tmp_path / "plan.json")
    override_id = the_update(doc)["before"]["id"]
    assert invoke(hub, "release", override_id).exit_code == 0
    writes = hub.sb.schematic.write_count
    result = invoke(hub, "apply", str(tmp_path / "plan.json"))
    assert result.exit_code == 3, result.output
    # the release wrote its note on the override: the saved plan is refused as made before that change
    assert f"refusing to apply {tmp_path / 'plan.json'}: Schematic changed since the plan was made" in result.output
    assert f"override {override_id} (Hooli / Seats) was changed" in result.output
    assert hub.sb.schematic.write_count == writes and hub.sb.schematic.overrides[override_id]["value_numeric"] == 75
    assert override_id in ledger(hub)["released"]


def test_apply_replans_an_override_released_between_its_plan_and_the_yes(hub: Harness) -> None:
    """The interactive path: released while the plan was shown, the company is planned again under its
    lease and the released override is left as it is (no refusal, nothing written)."""
    assert invoke(hub, "apply", "--yes").exit_code == 0
    hub.sb.hubspot.update_deal("1010", seats_purchased="90")
    released: list[str] = []

    def release_then_say_yes(run: PlanRun, _refusals: object) -> bool:
        (change,) = run.plan.changes
        assert change.before is not None and invoke(hub, "release", change.before.id).exit_code == 0
        released.append(change.before.id)
        return True

    writes = hub.sb.schematic.write_count
    with open_context(hub.settings, load_mappings(hub.settings.mappings)) as ctx:
        outcome = reconcile(
            ctx, load_mappings(hub.settings.mappings), Request(Trigger.MANUAL, Mode.APPLY), release_then_say_yes
        )
    assert outcome.status is RunStatus.OK and not outcome.refusals, outcome.refusals
    assert len(outcome.replanned) == 1
    assert hub.sb.schematic.write_count == writes + 1  # the release's own note, and nothing of the apply
    assert hub.sb.schematic.overrides[released[0]]["value_numeric"] == 75 and released[0] in ledger(hub)["released"]


def test_apply_replans_a_company_whose_override_another_run_deleted_meanwhile(hub: Harness) -> None:
    """The concurrent delete: another run deletes the override the plan updates; this apply plans the
    company again under its lease and creates the one override the deals want (exit 0, no refusal)."""
    assert invoke(hub, "apply", "--yes").exit_code == 0
    hub.sb.hubspot.update_deal("1010", seats_purchased="90")
    deleted: list[str] = []

    def another_run_deletes_it_first(run: PlanRun, _refusals: object) -> bool:
        (change,) = run.plan.changes
        assert change.before is not None
        for deal in ("1010", "1011"):  # Hooli's two seat deals
            hub.sb.hubspot.update_deal(deal, dealstage="closedlost")
        assert invoke(hub, "apply", "--yes").exit_code == 0  # the other run: the deal is lost, it deletes
        assert change.before.id not in hub.sb.schematic.overrides
        deleted.append(change.before.id)
        for deal in ("1010", "1011"):  # won again, 90 seats at most
            hub.sb.hubspot.update_deal(deal, dealstage="closedwon")
        return True

    with open_context(hub.settings, load_mappings(hub.settings.mappings)) as ctx:
        outcome = reconcile(
            ctx, load_mappings(hub.settings.mappings), Request(Trigger.MANUAL, Mode.APPLY), another_run_deletes_it_first
        )
    assert outcome.status is RunStatus.OK and not outcome.refusals, outcome.refusals
    assert deleted and len(outcome.replanned) == 1
    assert outcome.report is not None and [r.action for r in outcome.report.results] == ["create"]
    (record,) = [r for r in hub.sb.schematic.overrides.values() if r["value_numeric"] == 90]
    assert record["id"] in ledger(hub)["active"]
    assert_converged(hub)


def test_a_saved_plan_is_refused_when_an_override_appeared_where_it_creates(hub: Harness, tmp_path: Path) -> None:
    """Applying the same saved plan twice: the second run says it was already applied, writing nothing."""
    assert invoke(hub, "plan", "--out", str(tmp_path / "plan.json")).exit_code == 0
    assert invoke(hub, "apply", str(tmp_path / "plan.json")).exit_code == 0
    owned, writes = owned_count(hub), hub.sb.schematic.write_count
    again = invoke(hub, "apply", str(tmp_path / "plan.json"))
    assert again.exit_code == 3 and "already applied by run #" in again.output
    assert owned_count(hub) == owned and hub.sb.schematic.write_count == writes


def test_an_edited_plan_file_is_refused(hub: Harness, tmp_path: Path) -> None:
    """A value changed by hand in the file breaks its digest: exit 3, nothing written."""
    path = tmp_path / "plan.json"
    doc = hooli_seats_to_ninety(hub, path)
    doc["changes"][0]["after"]["value_numeric"] = 9000
    path.write_text(json.dumps(doc))
    writes = hub.sb.schematic.write_count
    result = invoke(hub, "apply", str(path))
    assert result.exit_code == 3 and "it was edited after crmsync plan wrote it" in result.output
    assert hub.sb.schematic.write_count == writes


def test_a_file_that_is_not_a_plan_exits_2(hub: Harness, tmp_path: Path) -> None:
    """Not JSON, or missing: one line naming the file, exit 2, no traceback."""
    (tmp_path / "junk.json").write_text("{not json")
    for name in ("junk.json", "missing.json"):
        result = invoke(hub, "apply", str(tmp_path / name))
        assert result.exit_code == 2 and name in result.output and "Traceback" not in result.output


def test_a_saved_plan_is_still_guarded(hub: Harness, tmp_path: Path) -> None:
    """A saved mass delete is refused like any other (exit 3), and applies with --allow-mass-change."""
    grow_to_twenty_then_lose_six(hub)
    path = str(tmp_path / "plan.json")
    assert invoke(hub, "plan", "--out", path).exit_code == 0
    writes = hub.sb.schematic.write_count
    refused = invoke(hub, "apply", path)
    assert refused.exit_code == 3 and "6 of 20 owned overrides (30%)" in refused.output
    assert hub.sb.schematic.write_count == writes
    assert invoke(hub, "apply", path, "--allow-mass-change").exit_code == 0 and owned_count(hub) == 14


def test_plan_json_and_the_saved_file_agree(harness: Harness, tmp_path: Path) -> None:
    """The saved file carries plan --json's summary and checksum, plus what applying needs."""
    printed = json.loads(invoke(harness, "plan", "--json", "--out", str(tmp_path / "p.json")).stdout)
    saved = json.loads((tmp_path / "p.json").read_text())
    assert saved["summary"] == printed["summary"] and saved["checksum"] == printed["checksum"]
    assert {"format", "digest", "read", "deals"} <= saved.keys()


def test_detailed_exitcode_is_2_with_changes_and_0_without(harness: Harness) -> None:
    """As Terraform: 2 while there is something to apply, 0 once Schematic matches."""
    assert invoke(harness, "plan", "--detailed-exitcode").exit_code == 2
    assert invoke(harness, "apply", "--yes").exit_code == 0
    assert invoke(harness, "plan", "--detailed-exitcode").exit_code == 0


def test_detailed_exitcode_turns_every_error_into_1(harness: Harness) -> None:
    """A missing secret (normally exit 2) exits 1 under --detailed-exitcode, so 2 always means changes."""
    result = invoke(harness, "plan", "--detailed-exitcode", env={"HUBSPOT_ACCESS_TOKEN": ""})
    assert result.exit_code == 1 and "HUBSPOT_ACCESS_TOKEN is not set" in result.output
