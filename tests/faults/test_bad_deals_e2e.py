"""Defects found by the reliability probe (issue 12), end to end: one absurd deal value does not stop
the run, and secrets in URLs never reach the output."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Harness
from tests.e2e.scenarios import invoke, overrides_per_pair


@pytest.mark.parametrize(
    "props",
    [
        {"contract_end_date": "9999-12-31T23:59:59-23:59"},
        {"closedate": "1" * 400},
        {"seats_purchased": "x" * 10_000_000},
        {"api_call_limit": "٥٠٠٠"},
    ],
    ids=["end-past-utc", "400-digit-closedate", "ten-megabytes", "arabic-digits"],
)
def test_one_absurd_deal_value_leaves_every_other_company_applied(harness: Harness, props: dict[str, str]) -> None:
    """A deal with an absurd value is reported (shortened); every other company's overrides are written."""
    harness.sb.hubspot.add_company("5999", "Absurd Inc")
    harness.sb.hubspot.add_deal(
        "1999",
        properties={
            "dealstage": "closedwon",
            "pipeline": "default",
            "seats_purchased": "3",
            "api_call_limit": "100",
            "contract_end_date": "2027-06-30",
            **props,
        },
        company_ids=["5999"],
    )
    run, report = harness.apply()
    assert report.ok, report.failed
    assert len(report.results) == 10  # the sample's ten creates all happened
    assert all(len(p.message) < 400 for p in run.plan.problems)
    if "closedate" not in props:  # an unreadable close date only matters to rules that count from it
        assert any(p.deal_id == "1999" for p in run.plan.problems)
    assert set(overrides_per_pair(harness).values()) == {1}


def test_a_database_password_in_the_query_string_is_never_printed(harness: Harness) -> None:
    """`?password=…` in CRMSYNC_DATABASE_URL is redacted from the one-line error."""
    url = "postgresql+psycopg://crm@127.0.0.1:1/nowhere?password=hunter2&connect_timeout=1"
    result = invoke(harness, "status", env={"CRMSYNC_DATABASE_URL": url})
    assert result.exit_code != 0 and "hunter2" not in result.output
    assert "127.0.0.1" in result.output


def test_credentials_inside_the_schematic_url_are_never_printed(harness: Harness) -> None:
    """`http://user:pass@host` in SCHEMATIC_API_URL is shown without its user info."""
    result = invoke(harness, "plan", env={"SCHEMATIC_API_URL": "http://admin:hunter2@127.0.0.1:1/"})
    assert result.exit_code != 0 and "hunter2" not in result.output and "admin" not in result.output
