"""`crmsync release` and `crmsync adopt` on the sandbox, and `on_conflict: adopt`: releasing stops
management with zero writes; the manual Globex override (35 seats, the deals want 40) is
previewed as adoptable, adopted, then updated with crmsync's note; nothing is written twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Harness
from tests.e2e.scenarios import assert_next_apply_writes_nothing, hubspot_with, invoke, ledger, the_override

GLOBEX = ("comp_globex", "feat_seats")  # a manual override of 35; deal 1004 wants 40
HOOLI = ("comp_hooli", "feat_seats")  # crmsync's after the first apply: 75, from deals 1010 and 1011


@pytest.fixture
def hub(harness: Harness, tmp_path: Path) -> Harness:
    """The HubSpot sample mapping (on_conflict: skip), applied once."""
    h = hubspot_with(harness, tmp_path)
    assert invoke(h, "apply", "--yes").exit_code == 0
    return h


def crmsync_note(record: dict[str, object]) -> str:
    """The newest note on an override."""
    notes = record["notes"]
    assert isinstance(notes, list)
    return str(notes[-1]["note"])


def test_release_writes_only_its_note_and_stops_management(hub: Harness) -> None:
    """Released: one write, the release note (value unchanged); a deal change no longer updates it; the
    plan says it is released (not managed), not a conflict, and the text plan words it so."""
    override_id = the_override(hub, *HOOLI)["id"]
    result = invoke(hub, "release", override_id)
    writes = hub.sb.schematic.write_count
    assert result.exit_code == 0 and f"released {override_id}" in result.output, result.output
    assert "1 release note(s) written" in result.output and override_id in ledger(hub)["released"]
    assert "[crmsync-released:" in crmsync_note(the_override(hub, *HOOLI))
    assert the_override(hub, *HOOLI)["value_numeric"] == 75
    hub.sb.hubspot.update_deal("1010", seats_purchased="90")
    run, _ = hub.apply()
    assert run.plan.changes == () and the_override(hub, *HOOLI)["value_numeric"] == 75
    assert [((c.company_id, c.feature_id), c.live.id) for c in run.plan.released] == [(HOOLI, override_id)]
    assert override_id not in {c.live.id for c in run.plan.conflicts}
    assert hub.sb.schematic.write_count == writes
    text = invoke(hub, "plan").output
    assert f"released (not managed): Hooli / Seats: override {override_id}" in text
    assert "conflict: Hooli / Seats" not in text


def test_release_by_company_key_and_feature_name(hub: Harness) -> None:
    """`--company hubspot_company_id=5005 --feature seats` releases Hooli's seats override only."""
    result = invoke(hub, "release", "--company", "hubspot_company_id=5005", "--feature", "seats")
    assert result.exit_code == 0, result.output
    assert ledger(hub)["released"] == {the_override(hub, *HOOLI)["id"]}


def test_releasing_an_override_crmsync_does_not_manage_is_refused(hub: Harness) -> None:
    """The manual Globex override is not crmsync's: exit 1, nothing released."""
    manual_id = the_override(hub, *GLOBEX)["id"]
    result = invoke(hub, "release", manual_id, the_override(hub, *HOOLI)["id"])
    assert result.exit_code == 1 and f"crmsync does not manage {manual_id}" in result.output
    assert ledger(hub)["released"] == set()


def test_plan_previews_the_manual_override_as_adoptable(hub: Harness) -> None:
    """`plan --json` lists it under `adoptable` with both values; the text plan says how to adopt it."""
    doc = json.loads(invoke(hub, "plan", "--json").stdout)
    (entry,) = doc["adoptable"]
    manual_id = the_override(hub, *GLOBEX)["id"]
    assert (entry["company_id"], entry["feature_id"], entry["override_id"]) == (*GLOBEX, manual_id)
    assert (entry["live"]["value_numeric"], entry["desired"]["value_numeric"]) == (35, 40)
    assert entry["value_matches"] is False and entry["auto"] is False
    assert "crmsync adopt --company comp_globex --feature feat_seats" in invoke(hub, "plan").output


def test_adopt_records_it_then_the_next_apply_updates_it_with_a_crmsync_note(hub: Harness) -> None:
    """adopt writes nothing; the next apply updates 35 → 40 in place; the one after writes nothing."""
    manual_id = the_override(hub, *GLOBEX)["id"]
    writes = hub.sb.schematic.write_count
    result = invoke(hub, "adopt", "--company", "comp_globex", "--feature", "Seats")
    assert result.exit_code == 0 and f"adopted {manual_id} (Globex / Seats, 35)" in result.output, result.output
    assert hub.sb.schematic.write_count == writes and manual_id in ledger(hub)["active"]
    assert invoke(hub, "apply", "--yes").exit_code == 0
    record = the_override(hub, *GLOBEX)
    assert (record["id"], record["value_numeric"]) == (manual_id, 40) and "crmsync" in crmsync_note(record)
    assert_next_apply_writes_nothing(hub)


def test_on_conflict_adopt_adopts_and_updates_in_one_apply(harness: Harness, tmp_path: Path) -> None:
    """With `on_conflict: adopt` the first apply takes the manual override over and sets it to 40."""
    hub = hubspot_with(harness, tmp_path, top="on_conflict: adopt")
    manual_id = the_override(hub, *GLOBEX)["id"]
    run, report = hub.apply()
    assert [a.live.id for a in run.plan.adoptions if a.auto] == [manual_id] and run.plan.conflicts == ()
    assert report.ok and any(manual_id in line for line in report.recorded)
    record = the_override(hub, *GLOBEX)
    assert (record["id"], record["value_numeric"]) == (manual_id, 40) and "crmsync" in crmsync_note(record)
    assert_next_apply_writes_nothing(hub)


def test_of_two_manual_overrides_the_newest_is_adopted_and_the_other_stays_a_conflict(
    harness: Harness, tmp_path: Path
) -> None:
    """A second manual Globex seats override: adopted (newest); the older stays untouched, a conflict."""
    hub = hubspot_with(harness, tmp_path, top="on_conflict: adopt")
    older = the_override(hub, *GLOBEX)
    newer_id = hub.sb.schematic.add_override(*GLOBEX, "numeric", value_numeric=38, note="second, by hand")
    run, report = hub.apply()
    assert report.ok and [c.live.id for c in run.plan.conflicts] == [older["id"]]
    assert hub.sb.schematic.overrides[newer_id]["value_numeric"] == 40
    assert hub.sb.schematic.overrides[older["id"]] == older
    assert_next_apply_writes_nothing(hub)


def test_on_conflict_adopt_never_takes_back_a_released_override(harness: Harness, tmp_path: Path) -> None:
    """Released stays released under `on_conflict: adopt`; an explicit `crmsync adopt` takes it back."""
    hub = hubspot_with(harness, tmp_path, top="on_conflict: adopt")
    assert invoke(hub, "apply", "--yes").exit_code == 0
    override_id = the_override(hub, *HOOLI)["id"]
    assert invoke(hub, "release", override_id).exit_code == 0
    hub.sb.hubspot.update_deal("1010", seats_purchased="90")
    assert_next_apply_writes_nothing(hub)
    assert invoke(hub, "adopt", "--company", "comp_hooli").exit_code == 0
    assert invoke(hub, "apply", "--yes").exit_code == 0
    assert (the_override(hub, *HOOLI)["id"], the_override(hub, *HOOLI)["value_numeric"]) == (override_id, 90)
    assert_next_apply_writes_nothing(hub)


def test_adopt_resumes_a_released_pair_whose_override_is_gone(harness: Harness, tmp_path: Path) -> None:
    """Deleted by hand under keep (released), then `crmsync adopt`: the next apply creates it again."""
    hub = hubspot_with(harness, tmp_path, top="drift: keep")
    assert invoke(hub, "apply", "--yes").exit_code == 0
    hub.sb.schematic.delete_override(the_override(hub, *HOOLI)["id"])
    assert invoke(hub, "apply", "--yes").exit_code == 0 and hub.sb.schematic.overrides_for(*HOOLI) == []
    result = invoke(hub, "adopt", "--company", "comp_hooli", "--feature", "seats")
    assert result.exit_code == 0 and "resumed Hooli / Seats" in result.output, result.output
    assert invoke(hub, "apply", "--yes").exit_code == 0
    assert the_override(hub, *HOOLI)["value_numeric"] == 75
    assert_next_apply_writes_nothing(hub)


def test_a_saved_plan_adopts_what_it_previewed(harness: Harness, tmp_path: Path) -> None:
    """`plan --out` under `on_conflict: adopt`, then `apply FILE`: adopted and set to 40, as planned."""
    hub = hubspot_with(harness, tmp_path, top="on_conflict: adopt")
    manual_id = the_override(hub, *GLOBEX)["id"]
    assert invoke(hub, "plan", "--out", str(tmp_path / "plan.json")).exit_code == 0
    result = invoke(hub, "apply", str(tmp_path / "plan.json"))
    assert result.exit_code == 0 and f"recorded in the ledger: adopt {manual_id}" in result.output, result.output
    assert the_override(hub, *GLOBEX)["value_numeric"] == 40 and manual_id in ledger(hub)["active"]
    assert_next_apply_writes_nothing(hub)


def test_a_saved_plan_that_only_adopts_is_shown_and_applied(harness: Harness, tmp_path: Path) -> None:
    """A matching manual override under `on_conflict: adopt`: plan shows the adoption, `apply FILE` records it."""
    skipping = hubspot_with(harness, tmp_path)
    manual_id = the_override(skipping, *GLOBEX)["id"]
    harness.sb.schematic.update_override(manual_id, {"value_numeric": 40})
    assert invoke(skipping, "apply", "--yes").exit_code == 0
    (tmp_path / "adopting").mkdir()
    hub = hubspot_with(harness, tmp_path / "adopting", top="on_conflict: adopt")
    planned = invoke(hub, "plan", "--out", str(tmp_path / "plan.json"))
    assert planned.exit_code == 0 and "No changes" not in planned.output, planned.output
    assert f"apply only records in crmsync's ledger: adopt {manual_id} (Globex / Seats)" in planned.output
    assert "1 to record in the ledger" in planned.output
    writes = hub.sb.schematic.write_count
    result = invoke(hub, "apply", str(tmp_path / "plan.json"))
    assert result.exit_code == 0 and f"recorded in the ledger: adopt {manual_id}" in result.output, result.output
    assert manual_id in ledger(hub)["active"] and hub.sb.schematic.write_count == writes
    assert_next_apply_writes_nothing(hub)


def test_adopt_of_a_company_id_schematic_does_not_have_exits_1(hub: Harness) -> None:
    """`adopt --company comp_typo`: one line saying no such company, exit 1, nothing recorded."""
    before = ledger(hub)
    result = invoke(hub, "adopt", "--company", "comp_typo")
    assert result.exit_code == 1 and "no Schematic company 'comp_typo'" in result.output, result.output
    assert "Nothing to adopt" not in result.output and ledger(hub) == before


def test_a_feature_name_two_features_share_is_refused_naming_both(hub: Harness) -> None:
    """A second feature named Seats: `release --feature Seats` names both ids, exit 1, nothing released."""
    twin = hub.sb.schematic.add_feature("Seats", "trait")
    result = invoke(hub, "release", "--company", "comp_hooli", "--feature", "Seats")
    assert result.exit_code == 1 and "2 features have the name 'Seats'" in result.output, result.output
    assert twin in result.output and "feat_seats" in result.output and len(result.output.strip().splitlines()) == 1
    assert ledger(hub)["released"] == set()
