"""Translation of deals into contributions: the v1 semantics, one behaviour per test."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from crmsync.domain import FeatureId, MetricPeriod, MonthReset, ValueType
from crmsync.mapping.rules import Condition, DealFilter, Op
from crmsync.mapping.translate import condition_holds, deal_counts, translate
from tests.core.builders import NOW, deal, mapping, rule

FEATURES = {"seats": FeatureId("feat_seats"), "SSO": FeatureId("feat_sso"), "API calls": FeatureId("feat_api")}


def one(deals, *rules, **file_fields):  # type: ignore[no-untyped-def]
    return translate(deals, [mapping(*rules, **file_fields)], FEATURES, NOW)


@pytest.mark.parametrize("raw", ["50", "50.0", " 50 ", "+50"], ids=["plain", "decimal-zero", "padded", "plus"])
def test_whole_numbers_in_any_spelling_are_accepted(raw: str) -> None:
    """Numeric values are whole numbers: "50", "50.0" and " 50 " are all 50."""
    result = one([deal("1", seats_purchased=raw)], rule())
    assert [c.value.value_numeric for c in result.contributions] == [50]
    assert result.problems == ()


@pytest.mark.parametrize(
    "raw", ["fifty", "50.5", "5 0", "1e3", "-3"], ids=["word", "fraction", "space", "exp", "negative"]
)
def test_anything_else_is_a_bad_value_for_that_deal_only(raw: str) -> None:
    """A bad numeric value is reported with the deal id; the other deal still contributes."""
    result = one([deal("1", seats_purchased=raw), deal("2", seats_purchased="20")], rule())
    assert [c.deal.id for c in result.contributions] == ["2"]
    assert [(p.deal_id, p.rule.line if p.rule else None) for p in result.problems] == [("1", 10)]


@pytest.mark.parametrize("raw", ["", "  "], ids=["empty", "spaces"])
def test_a_blank_value_is_absent_not_bad(raw: str) -> None:
    """A blank property gives no override and no problem: the deal is skipped with the reason."""
    result = one([deal("1", seats_purchased=raw)], rule())
    assert (result.contributions, result.problems) == ((), ())
    assert [s.reason for s in result.skipped] == ["no value in 'seats_purchased'"]


@pytest.mark.parametrize(
    "raw,expected", [("TRUE", True), ("yes", True), ("1", True), ("False", False), ("NO", False), ("0", False)]
)
def test_booleans_accept_true_false_yes_no_one_zero_in_any_case(raw: str, expected: bool) -> None:
    """Booleans accept true/false/yes/no/1/0 in any case."""
    result = one([deal("1", sso=raw)], rule("SSO", ValueType.BOOLEAN, source_property="sso"))
    assert result.contributions[0].value.value_bool is expected


def test_a_deal_without_the_property_contributes_nothing() -> None:
    """A deal without the `from` property simply contributes nothing, and is no error."""
    result = one([deal("1")], rule())
    assert result.contributions == () and result.problems == ()
    assert "no value" in result.skipped[0].reason


def test_deals_outside_the_counted_stages_are_ignored() -> None:
    """Only deals in the mapping's stages count."""
    result = one([deal("1", stage="closedlost", seats_purchased="5")], rule())
    assert result.contributions == ()


def test_when_condition_filters_deals_and_a_list_means_any_of() -> None:
    """`when` with a list matches any of its values, case-insensitively."""
    r = rule("SSO", ValueType.BOOLEAN, constant="true", when=(Condition("sso_addon", Op.ANY_OF, ("true", "yes")),))
    result = one([deal("1", sso_addon="Yes"), deal("2", sso_addon="false"), deal("3")], r)
    assert [c.deal.id for c in result.contributions] == ["1"]


def test_a_date_expiry_means_the_end_of_that_day_in_utc() -> None:
    """`expires_from` with a date expires at the end of that day, UTC."""
    result = one([deal("1", seats_purchased="5", end="2027-01-31")], rule(expires_from="end"))
    assert result.contributions[0].value.expiration == datetime(2027, 1, 31, 23, 59, 59, tzinfo=UTC)


def test_an_expiry_in_the_past_produces_no_override() -> None:
    """An expiration already in the past produces no override and no error."""
    result = one([deal("1", seats_purchased="5", end="2025-06-30")], rule(expires_from="end"))
    assert result.contributions == () and result.problems == ()
    assert result.skipped[0].reason.startswith("expired")


def test_a_bad_expiry_date_is_a_deal_problem() -> None:
    """A date property that is not a date is reported for that deal."""
    result = one([deal("1", seats_purchased="5", end="soon")], rule(expires_from="end"))
    assert "not a date" in result.problems[0].message


def test_metric_period_and_monthly_reset_are_carried() -> None:
    """An event feature's period is carried; a monthly window resets on the 1st unless told otherwise."""
    result = one([deal("1", seats_purchased="5")], rule("API calls", metric_period=MetricPeriod.CURRENT_MONTH))
    value = result.contributions[0].value
    assert (value.metric_period, value.month_reset) == (MetricPeriod.CURRENT_MONTH, MonthReset.FIRST_OF_MONTH)


def test_a_deal_without_a_company_is_reported() -> None:
    """A counted deal with no associated company is a deal problem."""
    result = one([deal("1", company=None, seats_purchased="5")], rule())
    assert "no associated company" in result.problems[0].message


def test_multiply_lookup_and_default() -> None:
    """`map`, `multiply` and `default` shape the raw value before it is parsed."""
    r = rule(lookup={"gold": "100", "silver": "50"}, source_property="tier", default="silver")
    result = one([deal("1", tier="GOLD"), deal("2")], r)
    assert [c.value.value_numeric for c in result.contributions] == [100, 50]
    r2 = rule(multiply=Decimal(1000))
    assert one([deal("3", seats_purchased="2.5")], r2).contributions[0].value.value_numeric == 2500


def test_starts_from_waits_for_the_contract_start() -> None:
    """No override before the contract starts; once started it is there."""
    r = rule(starts_from="start")
    future = (NOW + timedelta(days=3)).strftime("%Y-%m-%d")
    assert one([deal("1", seats_purchased="5", start=future)], r).contributions == ()
    assert len(one([deal("1", seats_purchased="5", start="2026-01-01")], r).contributions) == 1


@pytest.mark.parametrize("hour", [0, 12, 23], ids=["midnight", "noon", "late"])
def test_expires_after_days_ends_at_the_end_of_the_utc_day_n_days_after_the_close(hour: int) -> None:
    """A trial of N days ends at 23:59:59 UTC of the day N days after the close date, as expires_from
    does, whatever time of day the deal closed."""
    close = datetime(2026, 11, 1, hour, tzinfo=UTC)
    result = one([deal("1", close=close, seats_purchased="5")], rule(expires_after_days=30))
    assert result.contributions[0].value.expiration == datetime(2026, 12, 1, 23, 59, 59, tzinfo=UTC)


def test_comparison_conditions() -> None:
    """`when` with a numeric comparison holds only for numbers that pass it."""
    r = rule(when=(Condition("amount", Op.GTE, number=Decimal(1000)),))
    result = one(
        [
            deal("1", seats_purchased="5", amount="999"),
            deal("2", seats_purchased="5", amount="1000"),
            deal("3", seats_purchased="5", amount="lots"),
        ],
        r,
    )
    assert [c.deal.id for c in result.contributions] == ["2"]


def test_translation_is_deterministic() -> None:
    """The same deals and rules always give the same contributions."""
    deals = [deal(str(i), seats_purchased=str(i)) for i in range(20)]
    assert one(deals, rule()) == one(list(deals), rule())


def test_filters_and_conditions_match_in_any_case_and_stay_plain_values() -> None:
    """Stages, pipelines and `when` values compare in any case; using them leaves equality and hashing alone."""
    deal_filter = DealFilter(("ClosedWon",), pipelines=("Default",))
    condition = Condition("plan", Op.ANY_OF, (" Gold ", "SILVER"))
    assert deal_counts(deal("1", stage="closedwon", pipeline="DEFAULT"), deal_filter)
    assert not deal_counts(deal("2", stage="closedwon", pipeline="other"), deal_filter)
    assert condition_holds(condition, "gold") and condition_holds(condition, " silver ")
    assert not condition_holds(condition, "bronze")
    fresh_filter, fresh_condition = DealFilter(("ClosedWon",), pipelines=("Default",)), replace(condition)
    assert (deal_filter, condition) == (fresh_filter, fresh_condition)
    assert hash((deal_filter, condition)) == hash((fresh_filter, fresh_condition))
