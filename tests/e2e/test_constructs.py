"""Each mapping construct end to end: loaded and validated, translated from sandbox deals, planned."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from crmsync.cli.demo import sample_mappings
from crmsync.domain import ValueType
from crmsync.sandbox.schematic_traits import add_trait
from tests.e2e.conftest import Harness

HEAD = """\
source: hubspot
deals:
  stages: [closedwon]
company:
  key: hubspot_company_id
overrides:
"""


@dataclass
class Construct:
    rule: str  # one override entry, indented under `overrides:`
    company: str
    feature: str
    expect: Callable[[Any], bool]  # on the planned OverrideValue, or None when no override is planned
    deals: dict[str, dict[str, str]] = field(default_factory=dict)  # deal id → properties to set first


def value(n: int) -> Callable[[Any], bool]:
    return lambda v: v is not None and v.value_type is ValueType.NUMERIC and v.value_numeric == n


CONSTRUCTS = {
    "multiply": Construct(
        "  - {feature: API calls, type: numeric, from: api_call_limit, metric_period: current_month, multiply: 2}",
        "comp_umbrella",
        "feat_api_calls",
        value(500_000),
    ),
    "default": Construct(
        '  - {feature: seats, type: numeric, from: seats_extra, default: "5"}', "comp_umbrella", "feat_seats", value(5)
    ),
    "map": Construct(
        "  - {feature: seats, type: numeric, from: tier, map: {gold: 100, silver: 50}}",
        "comp_hooli",
        "feat_seats",
        value(100),
        {"1010": {"tier": "Gold"}},
    ),
    "map-unlimited": Construct(
        "  - {feature: seats, type: numeric, from: tier, map: {platinum: unlimited, gold: 100}}",
        "comp_hooli",
        "feat_seats",
        lambda v: v.value_type is ValueType.UNLIMITED,
        {"1010": {"tier": "platinum"}},
    ),
    "when-comparison": Construct(
        '  - {feature: SSO, type: boolean, value: true, when: {big: {">=": 50}}}',
        "comp_hooli",
        "feat_sso",
        lambda v: v is not None and v.value_bool is True,
        {"1010": {"big": "100"}},
    ),
    "when-comparison-fails": Construct(
        '  - {feature: SSO, type: boolean, value: true, when: {big: {">=": 50}}}',
        "comp_hooli",
        "feat_sso",
        lambda v: v is None,
        {"1010": {"big": "10"}},
    ),
    "when-present": Construct(
        "  - {feature: SSO, type: boolean, value: true, when: {contract_end_date: {present: true}}}",
        "comp_umbrella",
        "feat_sso",
        lambda v: v is not None and v.value_bool is True,
    ),
    "when-absent": Construct(
        "  - {feature: SSO, type: boolean, value: true, when: {contract_end_date: {absent: true}}}",
        "comp_hooli",
        "feat_sso",
        lambda v: v is not None and v.value_bool is True,
    ),
    "unlimited": Construct(
        "  - {feature: API calls, type: unlimited, metric_period: current_month}",
        "comp_hooli",
        "feat_api_calls",
        lambda v: v.value_type is ValueType.UNLIMITED,
    ),
    "trait": Construct(
        "  - {feature: seats, type: trait, trait: trait_seat_count}",
        "comp_hooli",
        "feat_seats",
        lambda v: v.value_type is ValueType.TRAIT and v.value_trait_id == "trait_seat_count",
    ),
    "trait-by-name": Construct(
        "  - {feature: seats, type: trait, trait: Seat count}",
        "comp_hooli",
        "feat_seats",
        lambda v: v.value_type is ValueType.TRAIT and v.value_trait_id == "trait_seat_count",
    ),
    "combine-per-override": Construct(
        "  - {feature: seats, type: numeric, from: seats_purchased, combine: sum}", "comp_acme", "feat_seats", value(80)
    ),
    "month-reset": Construct(
        "  - {feature: API calls, type: numeric, from: api_call_limit, metric_period: current_month,"
        " metric_period_month_reset: billing_cycle}",
        "comp_umbrella",
        "feat_api_calls",
        lambda v: v.month_reset is not None and v.month_reset.value == "billing_cycle",
    ),
    "starts-from-future": Construct(
        "  - {feature: seats, type: numeric, from: seats_purchased, starts_from: start}",
        "comp_hooli",
        "feat_seats",
        value(60),
        {"1010": {"start": "2099-01-01"}, "1011": {"start": "2026-01-01"}},
    ),
}


@pytest.mark.parametrize("name", list(CONSTRUCTS))
def test_each_construct_through_validate_translate_and_plan(harness: Harness, tmp_path: Path, name: str) -> None:
    """The construct's override is planned on the sandbox with the value the mapping language promises."""
    construct = CONSTRUCTS[name]
    harness.sb.hubspot.property_types["seats_extra"] = "number"  # defined in HubSpot, on no deal
    add_trait(harness.sb.schematic, "Seat count", trait_id="trait_seat_count")
    for deal_id, props in construct.deals.items():
        harness.sb.hubspot.update_deal(deal_id, **props)
    (tmp_path / "hubspot.yaml").write_text(HEAD + construct.rule + "\n")
    run = harness.plan(tmp_path)
    planned = {(c.company_id, c.feature_id): c.after.value for c in run.plan.changes if c.after}
    assert construct.expect(planned.get((construct.company, construct.feature))), planned


def test_expires_after_days_counts_from_the_close_date_on_the_sandbox(harness: Harness, tmp_path: Path) -> None:
    """A 400-day trial ends at the end of the UTC day 400 days after the deal's close date."""
    (tmp_path / "hubspot.yaml").write_text(
        HEAD + "  - {feature: seats, type: numeric, value: 10, expires_after_days: 400}\n"
    )
    run = harness.plan(tmp_path)
    planned = {(c.company_id, c.feature_id) for c in run.plan.changes}
    assert ("comp_initech", "feat_seats") not in planned  # Initech's won deal is in the other pipeline's stage
    hooli = next(c for c in run.plan.changes if (c.company_id, c.feature_id) == ("comp_hooli", "feat_seats"))
    closes = [harness.sb.hubspot.deals[d].properties["closedate"] for d in ("1010", "1011")]
    latest = max(datetime.fromisoformat(c.replace("Z", "+00:00")) for c in closes)
    last_day = (latest.astimezone(UTC) + timedelta(days=400)).date()
    assert hooli.after is not None and hooli.after.value.expiration == datetime.combine(last_day, time(23, 59, 59), UTC)


def test_an_expiry_counted_from_a_close_date_with_milliseconds_is_stable(harness: Harness, tmp_path: Path) -> None:
    """HubSpot close dates carry milliseconds; Schematic stores whole seconds: a second apply writes nothing."""
    harness.sb.hubspot.update_deal("1010", closedate="2026-11-02T10:11:12.345Z")
    (tmp_path / "hubspot.yaml").write_text(
        HEAD + "  - {feature: seats, type: numeric, value: 10, expires_after_days: 30}\n"
    )
    _, report = harness.apply(tmp_path)
    assert report.ok
    writes = harness.sb.schematic.write_count
    assert harness.plan(tmp_path).plan.is_empty and harness.sb.schematic.write_count == writes


def test_stage_names_match_without_regard_to_case(harness: Harness, tmp_path: Path) -> None:
    """`closed won` in a mapping counts Salesforce's `Closed Won` opportunities, as SOQL's IN does."""
    text = (sample_mappings() / "salesforce.yaml").read_text().replace("[Closed Won]", "[closed won]")
    (tmp_path / "salesforce.yaml").write_text(text)
    run = harness.plan(tmp_path)
    assert {c.company_id for c in run.plan.changes} == {"comp_acme", "comp_wayne"}
