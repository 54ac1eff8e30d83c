"""Plan entitlements: Schematic's most-generous comparison, and the warnings it gives a plan."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from crmsync.domain import (
    Action,
    Change,
    Company,
    CompanyId,
    DesiredOverride,
    FeatureId,
    MetricPeriod,
    OverrideValue,
    Provenance,
    ValueType,
)
from crmsync.reconcile.entitlements import (
    PlanEntitlements,
    describe,
    entitlement_warnings,
    is_more_generous,
    unjudged,
    with_add_ons,
)

DAY, WEEK, MONTH, EVER = (MetricPeriod.CURRENT_DAY, MetricPeriod.CURRENT_WEEK, MetricPeriod.CURRENT_MONTH,
                          MetricPeriod.ALL_TIME)  # fmt: skip
ACME, SEATS, SSO = CompanyId("comp_acme"), FeatureId("feat_seats"), FeatureId("feat_sso")


def n(value: int, period: MetricPeriod | None = None) -> OverrideValue:
    """A numeric limit, per period when given."""
    return OverrideValue(ValueType.NUMERIC, value_numeric=value, metric_period=period)


UNLIMITED = OverrideValue(ValueType.UNLIMITED)
ON, OFF = OverrideValue(ValueType.BOOLEAN, value_bool=True), OverrideValue(ValueType.BOOLEAN, value_bool=False)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        pytest.param(n(70, WEEK), n(8, DAY), True, id="weekly 70 beats daily 8 (10 a day)"),
        pytest.param(n(15, DAY), n(70, WEEK), True, id="daily 15 beats weekly 70"),
        pytest.param(n(300, MONTH), n(10, DAY), False, id="monthly 300 is not more than daily 10"),
        pytest.param(n(10, DAY), n(300, MONTH), False, id="daily 10 is not more than monthly 300"),
        pytest.param(UNLIMITED, n(10**12), True, id="unlimited beats any number"),
        pytest.param(n(10**12, MONTH), UNLIMITED, False, id="no number beats unlimited"),
        pytest.param(UNLIMITED, UNLIMITED, False, id="unlimited ties unlimited"),
        pytest.param(n(21), n(20), True, id="without periods the higher number wins"),
        pytest.param(n(20), n(20), False, id="equal is not more generous"),
        pytest.param(n(1, DAY), n(1000), True, id="only one side with a period: that side wins"),
        pytest.param(n(1000), n(1, DAY), False, id="only the other side with a period: it wins"),
        pytest.param(n(50, EVER), n(40, DAY), True, id="all_time compares raw values"),
    ],
)
def test_is_more_generous_follows_schematic(a: OverrideValue, b: OverrideValue, expected: bool) -> None:
    """Most-generous comparison as in Schematic's IsAllocationMoreGenerous (per-day rates)."""
    assert is_more_generous(a, b) is expected


def create(feature: FeatureId, value: OverrideValue, action: Action = Action.CREATE) -> Change:
    """A planned create (or update) of `value` for Acme."""
    want = DesiredOverride(ACME, feature, value, Provenance((), ()))
    return Change(action, ACME, feature, None, want, "deal hubspot 1001 via hubspot.yaml:10")


STARTER = PlanEntitlements("plvr_starter", "Starter", {SEATS: n(20), SSO: OFF})
GROWTH = PlanEntitlements("plvr_growth", "Growth", {SEATS: n(100), SSO: ON})
NAMES = {ACME: "Acme Corp", SEATS: "Seats", SSO: "SSO"}


def warn(change: Change, plan: PlanEntitlements) -> tuple[str, ...]:
    """The warnings for one change of a company on `plan`."""
    return entitlement_warnings([change], {ACME: plan.plan_version_id}, {plan.plan_version_id: plan}, NAMES)


def test_an_override_below_the_plan_warns_that_it_has_no_effect() -> None:
    """Seats 10 on Starter (20 seats) is outvoted by the plan."""
    (warning,) = warn(create(SEATS, n(10)), STARTER)
    assert warning.startswith("Acme Corp / Seats: the new override (10) is less generous than plan Starter's 20")
    assert "no effect" in warning


def test_an_override_equal_to_the_plan_warns_that_it_changes_nothing() -> None:
    """Seats 20 on Starter (20 seats) is a no-op."""
    (warning,) = warn(create(SEATS, n(20), Action.UPDATE), STARTER)
    assert "updated override (20)" in warning and "changes nothing" in warning


def test_a_false_boolean_warns_that_it_revokes_what_the_plan_grants() -> None:
    """SSO off on Growth (SSO on) revokes it: boolean overrides always win."""
    (warning,) = warn(create(SSO, OFF), GROWTH)
    assert "(off) revokes SSO, which plan Growth grants" in warning


def test_an_override_above_the_plan_gives_no_warning() -> None:
    """Seats 50 on Starter, unlimited seats, and SSO on over a plan without it are all effective."""
    assert warn(create(SEATS, n(50)), STARTER) == ()
    assert warn(create(SEATS, UNLIMITED), GROWTH) == ()
    assert warn(create(SSO, ON), STARTER) == ()


def test_deletes_companies_without_a_plan_and_unentitled_features_are_not_judged() -> None:
    """No warning without a planned value, a known plan, or an entitlement for the feature."""
    delete = Change(Action.DELETE, ACME, SEATS, None, None, "no counted deal grants it any more")
    assert entitlement_warnings([delete], {ACME: "plvr_starter"}, {"plvr_starter": STARTER}) == ()
    assert entitlement_warnings([create(SEATS, n(1))], {ACME: None}, {"plvr_starter": STARTER}) == ()
    bare = PlanEntitlements("plvr_x", "X", {})
    assert entitlement_warnings([create(SEATS, n(1))], {ACME: "plvr_x"}, {"plvr_x": bare}) == ()


def test_describe_leaves_out_the_expiry() -> None:
    """A warning speaks of the limit or switch alone: `10000 /current_month`, not `… until …`."""
    expiring = replace(n(10_000, MONTH), expiration=datetime(2027, 1, 31, tzinfo=UTC))
    assert describe(expiring) == describe(n(10_000, MONTH)) == "10000 /current_month"
    assert describe(replace(ON, expiration=datetime(2027, 1, 31, tzinfo=UTC))) == "on"


def test_add_ons_join_the_base_plan_and_the_most_generous_grant_counts() -> None:
    """Starter (20 seats, no SSO) with an add-on of 60 seats and SSO grants 60 seats and SSO."""
    addon = PlanEntitlements("plvr_addon", "Seats pack", {SEATS: n(60), SSO: ON})
    joined = with_add_ons(STARTER, [addon])
    assert joined is not None and joined.plan_name == "Starter + Seats pack"
    assert joined.values == {SEATS: n(60), SSO: ON}
    (warning,) = warn(create(SEATS, n(50)), joined)
    assert "less generous than plan Starter + Seats pack's 60" in warning
    assert with_add_ons(None, []) is None and with_add_ons(STARTER, []) is STARTER


def test_companies_without_a_plan_version_say_why_they_are_not_compared() -> None:
    """A company on no plan, and one on a plan without version, each get one line saying so;
    a company with a plan version, or with only deletes, gets none."""
    old, none = CompanyId("comp_old"), CompanyId("comp_none")
    companies = [
        Company(ACME, "Acme Corp", plan_version_id="plvr_starter", plan_name="Starter"),
        Company(old, "Old Co", plan_name="Legacy"),
        Company(none, "No Plan Inc"),
    ]
    changes = [
        create(SEATS, n(5)),
        replace(create(SEATS, n(5)), company_id=old),
        replace(create(SEATS, n(5)), company_id=none),
        Change(Action.DELETE, none, SSO, None, None, "gone"),
    ]
    assert unjudged(changes, companies) == (
        "Old Co: overrides not compared with plan Legacy: the plan has no version in Schematic, "
        "so its entitlements cannot be read",
        "No Plan Inc: overrides not compared with a plan: the company is on no plan in Schematic",
    )
    assert unjudged(changes[3:], companies) == ()
