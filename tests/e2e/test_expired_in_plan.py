"""`plan` names an override it stopped wanting because it expired ("expired 2026-10-31"), once: on the
first run after it ended, in text and JSON; later runs do not repeat it. Against the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import Harness
from tests.e2e.scenarios import invoke
from tests.mapping_texts import SEATS_TRIAL


def _trial(harness: Harness, tmp_path: Path) -> Path:
    """Tyrell's 30-day trial (closed 2026-10-01, so it ends 2026-10-31), applied on 2026-10-15."""
    harness.sb.hubspot.add_company("7001", "Tyrell")
    harness.sb.schematic.add_company("Tyrell", {"hubspot_company_id": "7001"}, company_id="comp_tyrell")
    fields = {"pipeline": "default", "dealstage": "closedwon", "closedate": "2026-10-01T00:00:00Z"}
    harness.sb.hubspot.add_deal("7101", properties=fields, company_ids=["7001"])
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "hubspot.yaml").write_text(SEATS_TRIAL)
    applied = invoke(harness, "apply", "--yes", "--mappings", str(maps), env={"CRMSYNC_NOW": "2026-10-15T12:00:00Z"})
    assert applied.exit_code == 0, applied.output
    return maps


def _plan(harness: Harness, maps: Path, now: str, *args: str) -> str:
    result = invoke(harness, "plan", "--mappings", str(maps), *args, env={"CRMSYNC_NOW": now})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_an_expired_trial_is_named_once_in_the_json_plan(harness: Harness, tmp_path: Path) -> None:
    """The first plan after the trial ended lists it under `expired` (with the day); the next plan does not."""
    maps = _trial(harness, tmp_path)
    doc = json.loads(_plan(harness, maps, "2026-11-05T09:00:00Z", "--json"))
    (gone,) = [e for e in doc["expired"] if e["company_id"] == "comp_tyrell"]
    assert gone["feature_id"] == "feat_seats" and gone["reason"] == "expired 2026-10-31"
    assert gone["live"]["expiration_date"] == "2026-10-31T23:59:59Z"
    assert not [c for c in doc["changes"] if c["company_id"] == "comp_tyrell"]  # left in place, not deleted
    again = json.loads(_plan(harness, maps, "2026-11-06T09:00:00Z", "--json"))
    assert not [e for e in again["expired"] if e["company_id"] == "comp_tyrell"]


def test_an_expired_trial_is_named_in_the_text_plan(harness: Harness, tmp_path: Path) -> None:
    """The text plan says which override expired and on which day; before it ends nothing is said."""
    maps = _trial(harness, tmp_path)
    assert "⌛" not in _plan(harness, maps, "2026-10-20T09:00:00Z")
    text = " ".join(_plan(harness, maps, "2026-11-05T09:00:00Z").split())
    assert "expired 2026-10-31: Tyrell / Seats: override cmov_" in text
    assert "has ended; no deal wants it any more and it stays in Schematic, inert" in text
