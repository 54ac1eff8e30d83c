"""`validate --offline` checks the files alone, across files too: two files that disagree on one
feature's type or policy fail it (exit 2, both places named) without any API."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from crmsync.cli import app
from tests.e2e.scenarios import edited_sample

runner = CliRunner()


def _maps(tmp_path: Path, old: str, new: str) -> Path:
    """The sample mappings with one edit of salesforce.yaml."""
    return edited_sample(tmp_path, "salesforce.yaml", old, new, count=1)


def test_offline_validate_catches_two_files_giving_one_feature_two_types(tmp_path: Path) -> None:
    """seats is numeric in hubspot.yaml and unlimited in salesforce.yaml: exit 2, located, both places named."""
    maps = _maps(tmp_path, "type: numeric\n    from: Seats__c", "type: unlimited")
    result = runner.invoke(app, ["validate", "--offline", "--mappings", str(maps)])
    assert result.exit_code == 2, result.output
    assert f"{maps / 'salesforce.yaml'}:10:14: feature 'seats' has type: unlimited here but numeric at" in result.output
    assert "hubspot.yaml:10" in result.output


def test_offline_validate_catches_two_files_giving_one_feature_two_policies(tmp_path: Path) -> None:
    """combine: sum in salesforce.yaml against hubspot.yaml's max for the same features: exit 2, no API."""
    maps = _maps(tmp_path, "combine: max", "combine: sum")
    result = runner.invoke(app, ["validate", "--offline", "--json", "--mappings", str(maps)])
    assert result.exit_code == 2, result.output
    assert '"valid": false' in result.output and "combine: sum (the policy of" in result.output
