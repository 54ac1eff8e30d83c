"""The pull-request recipes in examples/ci/: the GitHub workflow passes actionlint (and actionlint would
catch a broken one), both recipes run the checks on every request and post one sticky plan comment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "examples" / "ci"
ACTIONLINT = Path(sys.executable).parent / "actionlint"  # from the actionlint wheel in the dev group


def _lint(path: Path) -> subprocess.CompletedProcess[str]:
    """actionlint's verdict on one workflow file (no colour, one line per problem)."""
    return subprocess.run([str(ACTIONLINT), "-no-color", str(path)], capture_output=True, text=True, timeout=60)


def test_the_github_workflow_passes_actionlint() -> None:
    """examples/ci/github-actions.yml has no problem actionlint finds."""
    result = _lint(RECIPES / "github-actions.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """The lint is a real check: a misspelled expression context in the recipe fails it."""
    broken = tmp_path / "broken.yml"
    text = (RECIPES / "github-actions.yml").read_text()
    broken.write_text(text.replace("github.base_ref", "github.base_reff", 1))
    result = _lint(broken)
    assert result.returncode == 1 and "base_reff" in result.stdout


def test_the_github_workflow_checks_every_pull_request_and_keeps_one_comment() -> None:
    """validate --offline and test run on every pull request; the plan job (with --base and markdown)
    updates the comment that carries the marker instead of adding one per push."""
    flow = YAML(typ="safe").load((RECIPES / "github-actions.yml").read_text())
    assert "pull_request" in flow["on"]
    check = [step.get("run", "") for step in flow["jobs"]["check"]["steps"]]
    assert "python3 -m uv run crmsync validate --offline" in check and "python3 -m uv run crmsync test" in check
    plan = "\n".join(
        step.get("run", "") + str(step.get("with", {}).get("script", "")) for step in flow["jobs"]["plan"]["steps"]
    )
    assert 'crmsync plan --base "$BASE" --format markdown' in plan and "crmsync validate >" in plan
    assert "updateComment" in plan and "<!-- crmsync-plan -->" in plan


def test_the_gitlab_recipe_checks_every_merge_request_and_keeps_one_note() -> None:
    """The GitLab recipe has the same two jobs; the plan job updates the note that carries the marker."""
    ci = YAML(typ="safe").load((RECIPES / "gitlab-ci.yml").read_text())
    assert ci["crmsync-check"]["script"] == [
        "python3 -m uv run crmsync validate --offline",
        "python3 -m uv run crmsync test",
    ]
    script = "\n".join(ci["crmsync-plan"]["script"])
    assert 'crmsync plan --base "origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME" --format markdown' in script
    assert 'call("PUT"' in script and "<!-- crmsync-plan -->" in script
    assert all(
        "merge_request_event" in rule["if"] for job in ("crmsync-check", "crmsync-plan") for rule in ci[job]["rules"]
    )
