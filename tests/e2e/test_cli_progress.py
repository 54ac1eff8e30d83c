"""Progress on a terminal: `plan`/`apply` show what is under way on stderr when it is a terminal, and
print nothing of it when piped or with --json."""

from __future__ import annotations

import os

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
