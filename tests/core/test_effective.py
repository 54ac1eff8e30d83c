"""The effective entitlement: the most generous of plan, add-ons and override, which grants it, expiries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from crmsync.domain import (
    Action,
    Change,
    CompanyId,
    DesiredOverride,
    FeatureId,
    LiveOverride,
    MetricPeriod,
    OverrideId,
    OverrideValue,
    Provenance,
    ValueType,
)
from crmsync.reconcile.effective import CompanyPlans, GrantKind, change_effects, effective
from crmsync.reconcile.entitlements import PlanEntitlements

ACME, SEATS, SSO = CompanyId("comp_acme"), FeatureId("feat_seats"), FeatureId("feat_sso")
NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
ON, OFF = OverrideValue(ValueType.BOOLEAN, value_bool=True), OverrideValue(ValueType.BOOLEAN, value_bool=False)


def n(value: int, period: MetricPeriod | None = None, until: datetime | None = None) -> OverrideValue:
    """A numeric limit."""
    return OverrideValue(ValueType.NUMERIC, value_numeric=value, metric_period=period, expiration=until)


STARTER = PlanEntitlements("plvr_starter", "Starter", {SEATS: n(20), SSO: OFF})
PACK = PlanEntitlements("plvr_pack", "Seats pack", {SEATS: n(60), SSO: ON})
PLANS = CompanyPlans(STARTER, (PACK,))


def test_an_override_above_the_plan_and_add_ons_is_what_the_customer_can_use() -> None:
    """Plan 20, add-on 60, override 100: the customer can use 100, granted by the override."""
    e = effective(ACME, SEATS, PLANS, n(100), NOW, override_name="cmov_1")
    assert e.value == n(100) and [g.kind for g in e.granted_by] == [GrantKind.OVERRIDE]
    assert e.plan is not None and e.plan.value == n(20) and [g.value for g in e.add_ons] == [n(60)]


def test_an_override_below_an_add_on_is_outvoted_by_the_add_on() -> None:
    """Plan 20, add-on 60, override 50: the add-on's 60 is what the customer can use."""
    e = effective(ACME, SEATS, PLANS, n(50), NOW)
    assert e.value == n(60) and [(g.kind, g.name) for g in e.granted_by] == [(GrantKind.ADD_ON, "Seats pack")]


def test_a_tie_names_every_grant_giving_the_value() -> None:
    """Override 60 equal to the add-on's 60: both grant it."""
    e = effective(ACME, SEATS, PLANS, n(60), NOW)
    assert {g.kind for g in e.granted_by} == {GrantKind.ADD_ON, GrantKind.OVERRIDE}


def test_a_false_boolean_override_revokes_what_the_plan_grants() -> None:
    """A boolean override always wins, `false` included."""
    e = effective(ACME, SSO, PLANS, OFF, NOW)
    assert e.value == OFF and [g.kind for g in e.granted_by] == [GrantKind.OVERRIDE]


def test_a_winning_override_says_when_it_expires_and_what_remains() -> None:
    """An override of 100 until next month: 100 now, then the add-on's 60."""
    until = NOW + timedelta(days=30)
    e = effective(ACME, SEATS, PLANS, n(100, until=until), NOW)
    assert e.value == n(100) and e.expires == until and e.after_expiry == n(60)
    assert "then 60" in e.describe()


def test_an_expired_override_no_longer_counts() -> None:
    """An override whose expiry has passed grants nothing: the plan's value stands."""
    e = effective(ACME, SEATS, CompanyPlans(STARTER), n(100, until=NOW - timedelta(days=1)), NOW)
    assert e.value == n(20) and e.expired_override and e.expires is None


def test_without_plan_or_override_nothing_is_granted() -> None:
    """No grant at all: the customer can use nothing."""
    e = effective(ACME, SEATS, CompanyPlans(), None, NOW)
    assert e.value is None and e.granted_by == () and e.describe() == "nothing"


def test_a_create_below_the_plan_does_not_change_what_the_customer_can_use() -> None:
    """The plan marks a create the plan outvotes as not changing use; one above it as changing it."""

    def create(value: OverrideValue) -> Change:
        want = DesiredOverride(ACME, SEATS, value, Provenance((), ()))
        return Change(Action.CREATE, ACME, SEATS, None, want, "deal 1")

    low = change_effects([create(n(10))], {ACME: PLANS}, NOW)[("create", ACME, SEATS)]
    high = change_effects([create(n(90))], {ACME: PLANS}, NOW)[("create", ACME, SEATS)]
    assert not low.changes_use and low.after.value == n(60)
    assert high.changes_use and high.before.value == n(60) and high.after.value == n(90)


def test_a_delete_falls_back_to_the_plan() -> None:
    """Deleting an override of 100 leaves the customer with the add-on's 60."""
    live = LiveOverride(OverrideId("cmov_1"), ACME, SEATS, n(100))
    effect = change_effects([Change(Action.DELETE, ACME, SEATS, live, None, "gone")], {ACME: PLANS}, NOW)
    (only,) = effect.values()
    assert only.before.value == n(100) and only.after.value == n(60) and only.changes_use


limits = st.integers(min_value=0, max_value=10**6).map(n)


@given(plan=limits, add_on=limits, override=st.one_of(st.none(), limits))
def test_the_effective_limit_is_at_least_every_grant_and_is_one_of_them(
    plan: OverrideValue, add_on: OverrideValue, override: OverrideValue | None
) -> None:
    """Numeric grants: the effective value is the largest of them, and every named granter gives it."""
    plans = CompanyPlans(PlanEntitlements("a", "A", {SEATS: plan}), (PlanEntitlements("b", "B", {SEATS: add_on}),))
    e = effective(ACME, SEATS, plans, override, NOW)
    values = [v.value_numeric for v in (plan, add_on, override) if v is not None]
    assert e.value is not None and e.value.value_numeric == max(values)
    assert e.granted_by and all(g.value.value_numeric == max(values) for g in e.granted_by)


def test_an_unread_plan_is_said_to_be_unknown() -> None:
    """When a plan could not be read, the effective value says so instead of claiming nothing more."""
    e = effective(ACME, SEATS, CompanyPlans(known=False), n(50), NOW)
    assert e.value == n(50) and not e.plans_known and "could not be read" in e.describe()
    assert "could not be read" in effective(ACME, SEATS, CompanyPlans(known=False), None, NOW).describe()
