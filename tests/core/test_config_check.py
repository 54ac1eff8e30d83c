"""config/crmsync.toml is strict: unknown sections and keys and bad values are `file:line` errors with
a did-you-mean, exit 2, every one at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from crmsync.cli import app
from crmsync.config_check import ConfigProblems
from crmsync.settings import load_settings

BAD = """\
[hubspt]
searches_per_second = 2.0

[guards]
max_pct = 5
min_existing = -1
max_count = 20
"""


def test_every_problem_is_reported_at_its_line_with_a_did_you_mean(tmp_path: Path) -> None:
    """An unknown section, an unknown key and a bad value: three located lines, in file order."""
    path = tmp_path / "crmsync.toml"
    path.write_text(BAD)
    with pytest.raises(ConfigProblems) as caught:
        load_settings({"CRMSYNC_CONFIG": str(path)})
    assert caught.value.lines == [
        f"{path}:1: unknown section [hubspt]; did you mean 'hubspot'?",
        f"{path}:5: unknown key 'max_pct' in [guards]; did you mean 'max_percent'?",
        f"{path}:6: [guards] min_existing must be a number ≥ 0, not -1; e.g. min_existing = 10",
    ]


def test_the_cli_exits_2_naming_every_problem(tmp_path: Path) -> None:
    """`crmsync validate --offline` with a bad config file: exit 2, each problem on its own line, nothing run."""
    path = tmp_path / "crmsync.toml"
    path.write_text(BAD)
    result = CliRunner().invoke(app, ["validate", "--offline"], env={"CRMSYNC_CONFIG": str(path)})
    assert result.exit_code == 2
    assert "3 problems in" in result.output and f"{path}:5: unknown key 'max_pct'" in result.output


def test_the_shipped_config_and_its_settings_are_accepted(tmp_path: Path) -> None:
    """Every key the shipped file documents, uncommented, is known (the file is the reference)."""
    shipped = (Path(__file__).parents[2] / "config" / "crmsync.toml").read_text()
    uncommented = "\n".join(
        line.removeprefix("# ").split("#")[0] if line.startswith("# ") and "=" in line else line
        for line in shipped.splitlines()
    )
    path = tmp_path / "crmsync.toml"
    path.write_text(uncommented)
    guards = load_settings({"CRMSYNC_CONFIG": str(path)}).guards
    assert (guards.max_percent, guards.min_existing) == (10.0, 10)
