"""Guards that fit small customers: the percentages apply only from a floor of existing overrides
(or deals) up, limits compare per day as the entitlement warnings do, and withheld changes are
counted and worded (never "no changes"). Pure."""

from __future__ import annotations

from dataclasses import replace

import pytest

from crmsync.domain import Action, Change, CompanyId, FeatureId, MetricPeriod, OverrideValue, ValueType
from crmsync.reconcile.diff import DiffResult
from crmsync.reconcile.guards import GuardPolicy, check_guards, is_downgrade, shrunk_sources, withhold_deletes
from crmsync.reconcile.notices import RefusalKind
from crmsync.reconcile.plan import Plan
from crmsync.reconcile.withheld import withheld_count, withheld_lines
from tests.core.builders import desired, live, numeric

POLICY = GuardPolicy()


def per(n: int, period: MetricPeriod) -> OverrideValue:
    """An event limit of `n` per `period`."""
    return OverrideValue(ValueType.NUMERIC, value_numeric=n, metric_period=period)


def update(before: OverrideValue, after: OverrideValue, n: int = 0) -> Change:
    company, feature = CompanyId(f"comp_{n}"), FeatureId("feat_api")
    return Change(Action.UPDATE, company, feature, live(f"cmov_{n}", company, feature, before),
                  desired(company, feature, after), "")  # fmt: skip


def delete(n: int) -> Change:
    before = live(f"cmov_{n}", f"comp_{n}", "feat_seats", numeric(5))
    return Change(Action.DELETE, CompanyId(f"comp_{n}"), FeatureId("feat_seats"), before, None, "gone")


@pytest.mark.parametrize(("owned", "refused"), [(9, False), (10, True)], ids=["below-floor", "at-floor"])
def test_the_share_guard_applies_only_from_the_floor_of_owned_overrides(owned: int, refused: bool) -> None:
    """5 deletes of 9 owned (55%) is a small customer's normal day; of 10 owned it is refused."""
    plan = Plan(tuple(delete(n) for n in range(5)))
    kinds = [r.kind for r in check_guards(plan, owned, POLICY)]
    assert kinds == ([RefusalKind.MASS_CHANGE_SHARE] if refused else [])


def test_the_floor_is_a_setting() -> None:
    """min_existing: 0 restores the bare percentage for every size."""
    plan = Plan(tuple(delete(n) for n in range(5)))
    assert check_guards(plan, 9, replace(POLICY, min_existing=0)) != []


@pytest.mark.parametrize(
    ("count", "before", "shrunk"),
    [(1, 3, False), (0, 3, True), (4, 10, True), (5, 10, False)],
    ids=["3-to-1-below-floor", "none-at-all", "4-of-10", "half-of-10"],
)
def test_the_shrink_guard_applies_its_percentage_only_from_the_floor(count: int, before: int, shrunk: bool) -> None:
    """3 deals → 1 is not suspicious (under the floor of 10); none at all always is."""
    assert bool(shrunk_sources({"salesforce": count}, {"salesforce": before}, POLICY)) is shrunk


@pytest.mark.parametrize(
    ("before", "after", "down"),
    [
        (per(100, MetricPeriod.CURRENT_DAY), per(1000, MetricPeriod.CURRENT_MONTH), True),
        (per(100, MetricPeriod.CURRENT_DAY), per(3100, MetricPeriod.CURRENT_MONTH), False),
        (per(700, MetricPeriod.CURRENT_WEEK), per(99, MetricPeriod.CURRENT_DAY), True),
        (OverrideValue(ValueType.UNLIMITED), per(10**9, MetricPeriod.CURRENT_DAY), True),
        (per(10**9, MetricPeriod.CURRENT_DAY), OverrideValue(ValueType.UNLIMITED), False),
    ],
    ids=["100-day-to-1000-month", "100-day-to-3100-month", "700-week-to-99-day", "unlimited-to-number", "up"],
)
def test_a_downgrade_is_measured_per_day_as_the_entitlement_warnings_measure(
    before: OverrideValue, after: OverrideValue, down: bool
) -> None:
    """Limits compare per day (week ÷ 7, month ÷ 30); unlimited is above any number."""
    assert is_downgrade(update(before, after)) is down


def test_a_period_change_across_many_companies_is_refused_as_a_mass_downgrade() -> None:
    """100/day → 1,000/month for 20 companies is 20 downgrades of 20 owned: refused."""
    plan = Plan(tuple(update(per(100, MetricPeriod.CURRENT_DAY), per(1000, MetricPeriod.CURRENT_MONTH), n)
                      for n in range(20)))  # fmt: skip
    (refusal,) = check_guards(plan, 20, POLICY)
    assert (refusal.kind, refusal.affected, refusal.owned) == (RefusalKind.MASS_CHANGE_SHARE, 20, 20)


def test_withheld_changes_are_counted_and_named_by_guard() -> None:
    """What the shrink guard drops is counted, and each line names the guard and why."""
    result, warnings = withhold_deletes(
        DiffResult(tuple(delete(n) for n in range(3)), ()),
        {f"cmov_{n}": ("hubspot",) for n in range(3)},  # type: ignore[misc]
        {"hubspot": "hubspot returned no deals"},
    )
    plan = Plan(result.changes, warnings=warnings)
    assert plan.is_empty and withheld_count(plan) == 3
    assert withheld_lines(plan) == [
        "3 change(s) withheld by the shrink guard: hubspot returned no deals; 3 delete(s) of overrides it drives "
        "are withheld this run"
    ]
