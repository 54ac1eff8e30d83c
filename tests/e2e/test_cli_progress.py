"""Progress on a terminal: `plan`/`apply` show what is under way on stderr when it is a terminal, and
print nothing of it when piped or with --json."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.e2e.conftest import Harness
from tests.e2e.scenarios import invoke
from tests.e2e.test_cli_signals import on_terminal, read_until


def test_a_terminal_sees_what_plan_is_doing(harness: Harness) -> None:
    """On a pseudo-terminal, `plan` shows "Reading deals and live overrides…" before its summary line."""
    env = {**os.environ, **harness.env(), "COLUMNS": "120", "TERM": "xterm"}

    def until_the_summary(fd: int, seen: bytearray) -> None:
        read_until(fd, b"Plan: ", seen)
        read_until(fd, b"deal errors.", seen, timeout=60)

    code, text = on_terminal(env, ["plan"], until_the_summary)
    assert code == 0, text
    assert "Reading deals and live overrides" in text.split("Plan: ")[0]


def test_piped_and_json_output_carry_no_progress(harness: Harness) -> None:
    """Piped (no terminal) and `--json`: no progress text anywhere; `apply --yes --json` stdout parses."""
    assert "Reading deals" not in invoke(harness, "plan").output
    result = invoke(harness, "apply", "--yes", "--json")
    assert result.exit_code == 0 and "Reading deals" not in result.output and "Applying" not in result.output


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r")


def test_a_terminal_sees_deals_per_source_companies_pacing_and_writes_with_a_rate(
    harness: Harness, tmp_path: Path
) -> None:
    """On a pseudo-terminal, `apply` shows deals read per CRM with pages, companies planned, the Schematic
    write pacing, and the writes applied with a rate (5 writes/s: the pacing is visible)."""
    config = tmp_path / "crmsync.toml"
    config.write_text("[schematic]\nwrites_per_second = 5.0\n", encoding="utf-8")
    env = {**os.environ, **harness.env(), "COLUMNS": "160", "TERM": "xterm", "CRMSYNC_CONFIG": str(config)}

    def answer_yes_and_wait(fd: int, seen: bytearray) -> None:
        read_until(fd, b"[y/N]", seen)
        os.write(fd, b"y\r")
        read_until(fd, b"\xe2\x9c\x93 create", seen, timeout=120)  # the first write's line, after the writes
        read_until(fd, b"(the end of the output)", seen, timeout=60)  # stops at the end of the output

    code, raw = on_terminal(env, ["apply"], answer_yes_and_wait)
    text = ANSI.sub("", raw)
    assert code == 0, text
    reading, _, applying = text.partition("[y/N]")
    assert re.search(r"HubSpot deals read: \d+ \(1 page\)", reading), reading  # the deals in the mapped stages
    assert re.search(r"Salesforce deals read: \d+ \(1 page\)", reading), reading
    assert re.search(r"Companies planned .* 6/6", reading), reading
    assert re.search(r"Writes applied .*10/10 .*\d+\.\d/s", applying), applying
    assert "for the Schematic rate limit" in applying
