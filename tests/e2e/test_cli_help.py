"""`crmsync --version`, and help that reads cleanly for the app and every (sub)command."""

from __future__ import annotations

from importlib.metadata import version

import pytest
import typer.main
from typer.testing import CliRunner

from crmsync.cli import app

runner = CliRunner()


def command_paths() -> list[list[str]]:
    """Every command path of the app: [], ["plan"], …, ["db", "upgrade"], …"""
    root = typer.main.get_command(app)
    paths: list[list[str]] = [[]]
    for name, command in getattr(root, "commands", {}).items():
        paths.append([name])
        paths.extend([name, sub] for sub in getattr(command, "commands", {}))
    return paths


def test_version_prints_the_package_version() -> None:
    """`crmsync --version` prints `crmsync X.Y.Z` and exits 0."""
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"crmsync {version('crmsync')}"


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(p) or "crmsync")
def test_help_reads_cleanly(path: list[str]) -> None:
    """Each help page: exit 0, no `<bool>` on flags, no `{name}` or `…]...` in the usage line."""
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    usage = next(line for line in result.output.splitlines() if "Usage:" in line)
    assert "<bool>" not in result.output
    assert "{" not in usage and "…" not in usage


def test_usage_lines_name_arguments_in_click_style() -> None:
    """The usage lines name arguments the click way: `COMPANY`, `[FILE]`, `[OVERRIDE_ID]...`."""
    usage = {
        c: runner.invoke(app, [c, "--help"], env={"COLUMNS": "100"}).output for c in ("explain", "apply", "release")
    }
    assert " explain [OPTIONS] COMPANY" in usage["explain"]
    assert " apply [OPTIONS] [FILE]" in usage["apply"]
    assert " release [OPTIONS] [OVERRIDE_ID]..." in usage["release"]
