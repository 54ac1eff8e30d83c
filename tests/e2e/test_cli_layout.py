"""The plan's text layout: one line per change, its provenance on indented lines that fit the width,
no colour codes when piped, the same text at the same width every time."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import Harness
from tests.e2e.scenarios import invoke

CHANGE = re.compile(r"^[+~-] \S")


@pytest.mark.parametrize("columns", [60, 80, 200])
def test_piped_plan_has_one_line_per_change_and_fits_the_width(harness: Harness, columns: int) -> None:
    """At COLUMNS=60/80/200: 10 change lines, each followed by its why lines, every why line within the
    width, and no ANSI escapes (piped output is plain)."""
    result = invoke(harness, "plan", env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    changes = [i for i, line in enumerate(lines) if CHANGE.match(line)]
    assert len(changes) == 10
    for i in changes:
        assert lines[i + 1].startswith("    why: deal ")
    why = [line for line in lines if line.startswith("    why:") or line.startswith("         ")]
    assert why and all(len(line) <= columns for line in why)
    assert "\x1b[" not in result.output


def test_a_change_line_names_company_feature_and_value(harness: Harness) -> None:
    """`+ Acme Corp  Seats  50` (columns padded), its deals and rules on the next line."""
    lines = invoke(harness, "plan", env={"COLUMNS": "80"}).output.splitlines()
    seats = next(i for i, line in enumerate(lines) if line.startswith("+ Acme Corp") and " Seats " in line)
    assert re.fullmatch(r"\+ Acme Corp +Seats +50", lines[seats])
    assert "hubspot 1001" in lines[seats + 1]


def test_the_same_plan_prints_the_same_text(harness: Harness) -> None:
    """Piped output is stable: two plans at COLUMNS=80 print identical text."""
    first = invoke(harness, "plan", env={"COLUMNS": "80"}).output
    assert invoke(harness, "plan", env={"COLUMNS": "80"}).output == first


def test_report_lines_wrap_on_a_terminal_and_stay_whole_when_piped() -> None:
    """A long conflict line: on a 60-column terminal it wraps under an indent within 60 columns; piped it
    stays one line, whole, for grep."""
    from io import StringIO

    from rich.console import Console

    from crmsync.cli.layout import note

    text = "conflict: Globex / Seats: override cmov_1 (35) was not created by crmsync and is left untouched; " + (
        "the deals want 40"
    )
    tty = StringIO()
    note(Console(file=tty, width=60, force_terminal=True, color_system=None, soft_wrap=True), "!", "bold magenta", text)
    lines = tty.getvalue().splitlines()
    assert len(lines) > 1 and all(len(line) <= 60 for line in lines)
    assert lines[0].startswith("! conflict:") and all(line.startswith("    ") for line in lines[1:])
    piped = StringIO()
    note(Console(file=piped, width=60, force_terminal=False, soft_wrap=True), "!", "bold magenta", text)
    assert piped.getvalue() == f"! {text}\n"
