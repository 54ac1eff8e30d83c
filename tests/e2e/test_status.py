"""`crmsync status`: recent runs with their counts and failures, the conflicts and pending
companies still open, and how each change of the last apply ended."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Harness
from tests.e2e.scenarios import hubspot_only, invoke


@pytest.fixture
def hub(harness: Harness, tmp_path: Path) -> Harness:
    """The sandbox with only the sample's HubSpot mapping, after alice's apply whose first create was rejected."""
    h = hubspot_only(harness, tmp_path)
    h.sb.schematic.fail_next("POST", "/company-overrides", 422, times=1)
    assert invoke(h, "apply", "--yes", env={"CRMSYNC_ACTOR": "alice"}).exit_code == 1
    return h


def status_json(h: Harness) -> dict[str, Any]:
    """`crmsync status --json` as an object."""
    result = invoke(h, "status", "--json")
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def test_status_json_lists_runs_with_start_end_trigger_counts_and_failures(hub: Harness) -> None:
    """The failed apply is the newest run, with its times, trigger, counts and the API's message."""
    (run,) = status_json(hub)["runs"]
    assert (run["command"], run["trigger"], run["status"], run["actor"]) == ("apply", "manual", "failed", "alice")
    assert run["started_at"] <= run["finished_at"] and run["counts"]["failed"] == 1
    assert any("422" in failure for failure in run["failures"])


def test_status_json_shows_open_conflicts_and_pending_companies(hub: Harness) -> None:
    """The manual Globex override in the way, and Stark's key with no Schematic company, are still open."""
    doc = status_json(hub)
    assert [(c["company"], c["feature"]) for c in doc["conflicts"]] == [("Globex", "Seats")]
    assert [p["company_key"] for p in doc["pending"]] == ["hubspot_company_id=5006"]


def test_status_json_shows_each_change_of_the_last_apply(hub: Harness) -> None:
    """Every change of the last apply with its outcome: one rejected create, the others done."""
    changes = status_json(hub)["last_apply"]["changes"]
    assert [c["ok"] for c in changes].count(False) == 1 and len(changes) > 1
    assert all(c["override_id"] for c in changes if c["ok"])


def test_status_shows_the_same_as_text(hub: Harness) -> None:
    """The text form names the failed run, the conflict, the pending key and each change's outcome."""
    out = invoke(hub, "status").output
    assert "apply (manual, by alice)" in out and "failed:" in out and "422" in out
    assert "conflict: Globex / Seats" in out and "hubspot_company_id=5006" in out
    assert "✗ create" in out and "✓ create Acme Corp / Seats" in out


def test_a_saved_plan_apply_keeps_the_open_conflicts_of_the_plan_before(hub: Harness, tmp_path: Path) -> None:
    """Applying a saved plan records its run; the conflicts shown still come from the last full plan."""
    assert invoke(hub, "plan", "--out", str(tmp_path / "p.json")).exit_code == 0
    assert invoke(hub, "apply", str(tmp_path / "p.json")).exit_code == 0
    doc = status_json(hub)
    assert doc["runs"][0]["trigger"] == "saved-plan" and doc["runs"][0]["status"] == "ok"
    assert [c["company"] for c in doc["conflicts"]] == ["Globex"] and doc["last_apply"]["id"] == doc["runs"][0]["id"]


def test_no_runs_yet(harness: Harness) -> None:
    """A fresh state database: says so and exits 0."""
    result = invoke(harness, "status")
    assert result.exit_code == 0 and "No runs yet." in result.output


def test_a_release_is_a_run_of_its_actor(hub: Harness) -> None:
    """`crmsync release` is recorded in the run history with who released what, by the OS user when
    CRMSYNC_ACTOR is unset."""
    released = invoke(hub, "release", "--company", "comp_acme", env={"CRMSYNC_ACTOR": "", "USER": "bob",
                                                                             "LOGNAME": "bob"})  # fmt: skip
    assert released.exit_code == 0, released.output
    run = status_json(hub)["runs"][0]
    assert (run["command"], run["trigger"], run["status"], run["actor"]) == ("release", "manual", "ok", "bob")
    assert run["counts"]["released"] >= 1
