"""`crmsync plan --base DIR_OR_GIT_REF`: what a mapping edit changes, apart from pending CRM changes.

The sample is applied, then two things happen: a HubSpot deal changes (Initech buys 300 seats: a
pending CRM change) and the mapping file is edited (API calls per week instead of per month). The
plan against the base must list the edit's changes and the pending one separately.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from crmsync.cli.demo import sample_mappings
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import invoke

EDITED = ("metric_period: current_month", "metric_period: current_week")


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` (a test's own repository, with a fixed identity)."""
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "PATH": "/usr/bin:/bin", "HOME": str(repo)}  # fmt: skip
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout


@pytest.fixture
def edited(harness: Harness, tmp_path: Path) -> Harness:
    """The sample applied from a git repository's `mappings/`, then a pending deal change and an
    uncommitted edit of the mapping files (API calls per week)."""
    repo = tmp_path / "repo"
    shutil.copytree(sample_mappings(), repo / "mappings")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    h = Harness(harness.sb, replace(harness.settings, mappings=repo / "mappings"))
    _, report = h.apply()
    assert report.ok
    h.sb.hubspot.update_deal("1006", seats_purchased="300")  # Initech: not yet applied
    for path in (repo / "mappings").glob("*.yaml"):  # one feature keeps one window in every file
        path.write_text(path.read_text().replace(*EDITED))
    return h


def keys(changes: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(action, company, feature) of each change object."""
    return {(c["action"], c["company_id"], c["feature_id"]) for c in changes}


def check_split(doc: dict[str, Any], base: str) -> None:
    """The edit changes only API calls' period; the pending change is Initech's seats alone."""
    assert doc["base"] == base
    edit, pending = doc["edit_changes"], doc["pending_changes"]
    assert keys(pending) == {("update", "comp_initech", "feat_seats")}
    assert pending[0]["before"]["value_numeric"] == 250 and pending[0]["after"]["value_numeric"] == 300
    assert edit and {f for _, _, f in keys(edit)} == {"feat_api_calls"}
    assert all(c["action"] == "update" for c in edit)
    assert all(c["before"]["metric_period"] == "current_month" and c["after"]["metric_period"] == "current_week"
               for c in edit)  # fmt: skip
    assert all(c["effective_before"]["value"]["metric_period"] == "current_month" for c in edit)
    assert all(c["effective_after"]["value"]["metric_period"] == "current_week" for c in edit)
    assert keys(doc["changes"]) == keys(edit) | keys(pending)  # apply with the head does both


def test_plan_base_git_ref_separates_the_edit_from_pending_crm_changes(edited: Harness) -> None:
    """`plan --base main --json`: the edit's changes and the pending CRM change in two lists."""
    result = invoke(edited, "plan", "--json", "--base", "main")
    assert result.exit_code == 0, result.output
    check_split(json.loads(result.stdout), "main")


def test_plan_base_reads_the_ref_without_checking_it_out(edited: Harness) -> None:
    """The work tree keeps the edit and HEAD stays where it was: the ref was read with git show."""
    repo = edited.settings.mappings.parent
    head = git(repo, "rev-parse", "HEAD")
    invoke(edited, "plan", "--base", "main")
    assert "current_week" in (repo / "mappings" / "hubspot.yaml").read_text()
    assert git(repo, "rev-parse", "HEAD") == head and "hubspot.yaml" in git(repo, "status", "--porcelain")


def test_plan_base_directory_gives_the_same_split(edited: Harness, tmp_path: Path) -> None:
    """A folder as the base gives the same split as the git ref it copies."""
    base = tmp_path / "base"
    shutil.copytree(sample_mappings(), base)
    result = invoke(edited, "plan", "--json", "--base", str(base))
    assert result.exit_code == 0, result.output
    check_split(json.loads(result.stdout), str(base))


def test_plan_base_text_has_two_headed_sections(edited: Harness) -> None:
    """Text: "This edit" lists API calls, "Not from this edit" lists Initech's seats, in that order."""
    text = invoke(edited, "plan", "--base", "main").output
    edit_at, pending_at = text.index("This edit (main → "), text.index("Not from this edit")
    assert edit_at < pending_at
    assert "API calls" in text[edit_at:pending_at] and "Initech" not in text[edit_at:pending_at]
    assert "Initech" in text[pending_at:] and "250 → 300" in text[pending_at:]
    assert "can use:" in text[edit_at:pending_at]


def test_plan_without_base_has_no_edit_keys(edited: Harness) -> None:
    """Without --base the plan JSON is as before: no base, edit_changes or pending_changes."""
    doc = json.loads(invoke(edited, "plan", "--json").stdout)
    assert not {"base", "edit_changes", "pending_changes"} & set(doc)


def test_an_unknown_ref_is_one_clear_line_and_exit_2(edited: Harness) -> None:
    """A base that is neither a folder nor a ref: one line saying so, exit 2, no traceback."""
    result = invoke(edited, "plan", "--base", "no-such-branch")
    assert result.exit_code == 2 and "neither a folder nor a git ref" in result.output
    assert "Traceback" not in result.output


def test_a_broken_base_file_is_located_at_the_ref(edited: Harness) -> None:
    """A base whose file does not parse: located as `REF:path:line:col`, exit 2, nothing written."""
    repo = edited.settings.mappings.parent
    edit = (repo / "mappings" / "hubspot.yaml").read_text()
    (repo / "mappings" / "hubspot.yaml").write_text("source: hubspot\ndeals: [\n")
    git(repo, "commit", "-q", "-am", "broken")
    (repo / "mappings" / "hubspot.yaml").write_text(edit)
    writes = len([r for r in edited.sb.schematic.requests if r.method != "GET"])
    result = invoke(edited, "plan", "--base", "HEAD")
    assert result.exit_code == 2 and "HEAD:mappings/hubspot.yaml:" in result.output
    assert len([r for r in edited.sb.schematic.requests if r.method != "GET"]) == writes


def test_removing_a_file_reads_its_crm_for_the_base(edited: Harness) -> None:
    """The edit deletes salesforce.yaml: the base still reads Salesforce (the head alone would not),
    and the overrides only Salesforce drove are the edit's deletes."""
    (edited.settings.mappings / "salesforce.yaml").unlink()
    result = invoke(edited, "plan", "--json", "--base", "main")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    deletes = {(c["company_id"], c["feature_id"]) for c in doc["edit_changes"] if c["action"] == "delete"}
    assert deletes and deletes == {(c["company_id"], c["feature_id"]) for c in doc["changes"]
                                   if c["action"] == "delete"}  # fmt: skip
    assert ("update", "comp_initech", "feat_seats") in keys(doc["pending_changes"])


def test_plan_base_markdown_shows_the_edit_with_effective_entitlements(edited: Harness) -> None:
    """`--format markdown` renders the same split: the edit's API calls with what the customer can use
    before → after, and Initech's seats only under pending CRM changes."""
    result = invoke(edited, "plan", "--base", "main", "--format", "markdown")
    assert result.exit_code == 0, result.output
    edits, pending = result.stdout.split("### Pending CRM changes")
    assert "against `main`" in edits and "Initech" not in edits
    assert "effective entitlement: 500000 per current_month from override cmov_" in edits
    assert "→ 500000 per current_week from override cmov_" in edits
    assert "Initech" in pending


def test_plan_base_previews_the_guard_window_as_plain_plan_does(edited: Harness, tmp_path: Path) -> None:
    """With the last hour's deletes, the edit's deletes would trip the guard: `plan --base` withholds
    them and says so, in text and JSON, exactly as a plain `plan` does."""
    hubspot = edited.settings.mappings / "hubspot.yaml"
    text = hubspot.read_text()
    hubspot.write_text(text[: text.index("  - feature: SSO")] + text[text.index("  - feature: API calls") :])
    edited.sb.hubspot.update_deal("1006", dealstage="closedlost")  # Initech's seats go: a delete in the window
    _, report = Harness(edited.sb, replace(edited.settings, mappings=sample_mappings())).apply()
    assert report.ok
    alone = tmp_path / "alone.toml"  # each run judged alone: the edit's deletes are within the guard
    alone.write_text("[guards]\nwindow_seconds = 0\nmax_percent = 100.0\n")
    doc = json.loads(invoke(edited, "plan", "--json", env={"CRMSYNC_CONFIG": str(alone)}).stdout)
    deletes = sum(1 for c in doc["changes"] if c["action"] == "delete")
    assert deletes and not doc["withheld"]
    windowed = tmp_path / "windowed.toml"  # the edit's deletes alone are allowed; with the window's one, not
    windowed.write_text(f"[guards]\nmax_count = {deletes}\nmax_percent = 100.0\n")
    env = {"CRMSYNC_CONFIG": str(windowed)}
    plain = json.loads(invoke(edited, "plan", "--json", env=env).stdout)
    based = json.loads(invoke(edited, "plan", "--json", "--base", "main", env=env).stdout)
    held = [w for w in plain["warnings"] if w["kind"] == "guard-window"]
    assert plain["withheld"] == deletes and len(held) == 1
    assert based["withheld"] == plain["withheld"]
    assert [w for w in based["warnings"] if w["kind"] == "guard-window"] == held
    assert keys(based["changes"]) == keys(plain["changes"])
    assert "delete" not in {action for action, _, _ in keys(based["changes"])}
    assert {a for a, _, _ in keys(based["edit_changes"])} == {"update", "delete"}  # what the edit changes, still
    line = f"{deletes} change(s) withheld by the mass-change guard (its window)"
    shown = invoke(edited, "plan", env=env).output
    assert line in shown and line in invoke(edited, "plan", "--base", "main", env=env).output
