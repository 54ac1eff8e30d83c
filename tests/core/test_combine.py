"""Combining several deals for one company and feature into one desired override."""

from __future__ import annotations

from datetime import UTC, datetime

from crmsync.domain import (
    Combine,
    CompanyId,
    CompanyKey,
    Contribution,
    FeatureId,
    OverrideValue,
    RuleRef,
    Source,
    ValueType,
)
from crmsync.reconcile.combine import combine
from tests.core.builders import deal, numeric

KEY = CompanyKey("hubspot_company_id", "5001")
COMPANIES = {KEY: CompanyId("comp_acme")}
RULE = RuleRef("mappings/hubspot.yaml", 10, "seats")


def contrib(
    deal_id: str,
    value: OverrideValue,
    policy: Combine = Combine.MAX,
    close: datetime | None = None,
    company: CompanyKey = KEY,
) -> Contribution:
    return Contribution(company, FeatureId("feat_seats"), value, policy, deal(deal_id, close=close), RULE)


def only(contributions: list[Contribution]) -> OverrideValue:
    desired, _ = combine(contributions, COMPANIES)
    (one,) = desired.values()
    return one.value


def test_max_takes_the_largest_number() -> None:
    """`max` takes the largest number."""
    assert only([contrib("1", numeric(50)), contrib("2", numeric(30))]).value_numeric == 50


def test_unlimited_beats_any_number() -> None:
    """Under `max`, unlimited beats any number."""
    assert (
        only([contrib("1", numeric(10**9)), contrib("2", OverrideValue(ValueType.UNLIMITED))]).value_type
        is ValueType.UNLIMITED
    )


def test_true_beats_false() -> None:
    """Under `max`, true beats false."""
    t, f = OverrideValue(ValueType.BOOLEAN, value_bool=True), OverrideValue(ValueType.BOOLEAN, value_bool=False)
    assert only([contrib("1", f), contrib("2", t)]).value_bool is True


def test_latest_expiration_wins_and_none_means_never() -> None:
    """Under `max` the latest expiration wins, and no expiration (never) beats any date."""
    a = OverrideValue(ValueType.NUMERIC, value_numeric=5, expiration=datetime(2027, 1, 1, tzinfo=UTC))
    b = OverrideValue(ValueType.NUMERIC, value_numeric=3, expiration=datetime(2028, 1, 1, tzinfo=UTC))
    assert only([contrib("1", a), contrib("2", b)]).expiration == datetime(2028, 1, 1, tzinfo=UTC)
    never = OverrideValue(ValueType.NUMERIC, value_numeric=1)
    assert only([contrib("1", a), contrib("2", never)]).expiration is None


def test_sum_adds_numbers() -> None:
    """`sum` adds the numbers of every deal."""
    assert only([contrib("1", numeric(50), Combine.SUM), contrib("2", numeric(30), Combine.SUM)]).value_numeric == 80


def test_latest_takes_the_deal_with_the_latest_close_date() -> None:
    """`latest` takes the value of the deal that closed last."""
    early, late = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)
    value = only([contrib("1", numeric(50), Combine.LATEST, early), contrib("2", numeric(30), Combine.LATEST, late)])
    assert value.value_numeric == 30


def test_min_takes_the_smallest_number() -> None:
    """`min` takes the smallest number."""
    assert only([contrib("1", numeric(50), Combine.MIN), contrib("2", numeric(30), Combine.MIN)]).value_numeric == 30


def test_provenance_names_every_contributing_deal() -> None:
    """The combined override names all its deals."""
    desired, _ = combine([contrib("2", numeric(1)), contrib("1", numeric(2))], COMPANIES)
    assert [d for _, d in next(iter(desired.values())).provenance.deals] == ["1", "2"]


def test_a_company_key_without_a_schematic_company_is_pending() -> None:
    """A key no Schematic company carries is pending, not an error."""
    unknown = CompanyKey("hubspot_company_id", "5006")
    desired, pending = combine([contrib("9", numeric(1), company=unknown)], COMPANIES)
    assert desired == {} and pending[0].company == unknown
    assert pending[0].deals == ((Source.HUBSPOT, "9"),)


def test_two_crm_keys_of_one_company_combine_into_one_override() -> None:
    """A company carrying a HubSpot and a Salesforce key gets one override from both."""
    sf_key = CompanyKey("salesforce_account_id", "001A")
    companies = {KEY: CompanyId("comp_acme"), sf_key: CompanyId("comp_acme")}
    desired, _ = combine([contrib("1", numeric(50)), contrib("2", numeric(70), company=sf_key)], companies)
    assert [d.value.value_numeric for d in desired.values()] == [70]
