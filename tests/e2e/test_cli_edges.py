"""Rough edges of the CLI, each fixed: a mapping's type error lists only the types crmsync writes;
`apply FILE` repeats the saved plan's report counts."""

from __future__ import annotations

from pathlib import Path

from crmsync.cli.demo import sample_mappings
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import invoke


def test_a_bad_type_lists_only_the_types_crmsync_writes(harness: Harness, tmp_path: Path) -> None:
    """`type: seats` (and `type: credit`, which Schematic has but crmsync never writes) are located errors
    listing boolean, numeric, unlimited, trait — not Schematic's read-only credit and unknown."""
    maps = tmp_path / "maps"
    maps.mkdir()
    text = (sample_mappings() / "hubspot.yaml").read_text()
    (maps / "hubspot.yaml").write_text(
        text.replace("type: numeric", "type: seats", 1).replace("type: boolean", "type: credit", 1)
    )
    result = invoke(harness, "validate", "--offline", "--mappings", str(maps))
    assert result.exit_code == 2
    problems = [line for line in result.output.splitlines() if "type: '" in line]
    assert len(problems) == 2
    assert all(line.endswith("use one of: boolean, numeric, unlimited, trait") for line in problems)


def test_apply_file_shows_the_saved_plans_report_counts(harness: Harness, tmp_path: Path) -> None:
    """`apply FILE` repeats the plan's summary with the conflicts, pending companies and deal errors it
    recorded (1, 2 and 3 in the sample), not zeros."""
    saved = tmp_path / "plan.json"
    made = invoke(harness, "plan", "--out", str(saved))
    summary = "Plan: 10 to create, 0 to update, 0 to delete; 1 conflict, 2 pending companies, 3 deal errors."
    assert summary in made.output
    applied = invoke(harness, "apply", str(saved))
    assert applied.exit_code == 0 and summary in applied.output, applied.output
