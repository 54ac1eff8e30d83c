"""One JSON object with a `format_version` from every command's `--json`: apply, validate (new) and
plan, status, explain, owned, ledger rebuild, adopt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Harness
from tests.e2e.scenarios import invoke
from tests.e2e.test_cli import BAD_MAPPING as BAD


def test_apply_json_is_one_object_with_each_result(harness: Harness) -> None:
    """`apply --yes --json`: status ok, the plan's summary, one result per change, nothing but JSON on stdout."""
    result = invoke(harness, "apply", "--yes", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["format_version"] == 1 and doc["status"] == "ok"
    assert doc["plan"]["summary"] == {"create": 10, "update": 0, "delete": 0}
    assert doc["applied"] == 10 and len(doc["results"]) == 10 and all(r["ok"] for r in doc["results"])


def test_apply_json_without_yes_asks_for_it(harness: Harness) -> None:
    """`apply --json` never prompts: without --yes it exits 2 with one line and writes nothing."""
    result = invoke(harness, "apply", "--json")
    assert result.exit_code == 2 and "--yes" in result.output
    assert harness.sb.schematic.write_count == 0


def test_a_refused_apply_json_says_refused_with_exit_3(harness: Harness, tmp_path: Path) -> None:
    """Re-applying a saved plan: `apply FILE --json` exits 3 with status refused and the reason."""
    saved = tmp_path / "plan.json"
    assert invoke(harness, "plan", "--out", str(saved)).exit_code == 0
    assert invoke(harness, "apply", str(saved)).exit_code == 0
    result = invoke(harness, "apply", str(saved), "--json")
    doc = json.loads(result.stdout)
    assert result.exit_code == 3 and doc["status"] == "refused"
    assert [r["kind"] for r in doc["refusals"]] == ["already-applied"]


def test_validate_json_valid_and_invalid(harness: Harness, tmp_path: Path) -> None:
    """`validate --json`: valid with counts; a bad mapping gives valid false, each located problem, exit 2."""
    ok = invoke(harness, "validate", "--json")
    doc = json.loads(ok.stdout)
    assert ok.exit_code == 0 and doc["valid"] is True and doc["files"] == 2 and doc["format_version"] == 1
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "hubspot.yaml").write_text(BAD)
    bad = invoke(harness, "validate", "--json", "--mappings", str(tmp_path / "maps"))
    doc = json.loads(bad.stdout)
    assert bad.exit_code == 2 and doc["valid"] is False
    assert doc["problems"][0]["line"] == 7 and "Seatz" in doc["problems"][0]["message"]


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "--json"],
        ["status", "--json"],
        ["explain", "comp_acme", "--json"],
        ["owned", "--json"],
        ["ledger", "rebuild", "--json"],
        ["adopt", "--json"],
    ],
    ids=lambda a: a[0],
)
def test_every_json_output_has_a_format_version(harness: Harness, args: list[str]) -> None:
    """Each `--json` prints exactly one object carrying `format_version` 1."""
    assert invoke(harness, "apply", "--yes").exit_code == 0
    result = invoke(harness, *args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["format_version"] == 1
