"""One expiry convention: `expires_after_days` and `expires_from` both end at the end of a UTC day,
so a test case's plain-date expectation, the plan and `explain` name the same instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from crmsync.cli import app
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import invoke
from tests.mapping_texts import SEATS_TRIAL

CASE = """source: hubspot
now: 2026-11-21T12:00:00Z
cases:
  - name: a 30-day trial closed at noon ends at the end of the 30th day
    deals:
      - {id: 1, company: 5001, stage: closedwon, close_date: "2026-11-10T12:00:00Z"}
    expect:
      overrides:
        - {company: hubspot_company_id=5001, feature: seats, type: numeric, value: 10, expiration: 2026-12-10}
"""


def test_a_trial_case_with_a_plain_date_expectation_passes(tmp_path: Path) -> None:
    """`expiration: 2026-12-10` (a plain date: its end, UTC) is what a 30-day trial closed on 11-10 at noon gives."""
    (tmp_path / "hubspot.yaml").write_text(SEATS_TRIAL)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "trial.yaml").write_text(CASE)
    result = CliRunner().invoke(app, ["test", "--mappings", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "1 case: 1 passed, 0 failed." in result.output


def test_plan_and_explain_show_the_end_of_the_trials_last_day(harness: Harness, tmp_path: Path) -> None:
    """The planned expiry and `explain` both say 23:59:59 UTC of the day 400 days after the close date."""
    (tmp_path / "hubspot.yaml").write_text(SEATS_TRIAL.replace("expires_after_days: 30", "expires_after_days: 400"))
    close = max(
        datetime.fromisoformat(harness.sb.hubspot.deals[d].properties["closedate"].replace("Z", "+00:00"))
        for d in ("1010", "1011")
    )
    last_day = (close.astimezone(UTC) + timedelta(days=400)).date()
    run = harness.plan(tmp_path)
    (change,) = [c for c in run.plan.changes if (c.company_id, c.feature_id) == ("comp_hooli", "feat_seats")]
    assert change.after is not None
    assert change.after.value.expiration == datetime(
        last_day.year, last_day.month, last_day.day, 23, 59, 59, tzinfo=UTC
    )
    explained = invoke(harness, "explain", "comp_hooli", "--mappings", str(tmp_path))
    assert explained.exit_code == 0, explained.output
    assert f"wanted: 10 until {last_day:%Y-%m-%d} 23:59Z" in explained.output
