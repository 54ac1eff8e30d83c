"""The blast-radius guards' arithmetic: when a plan is refused, when a source's deletes are
withheld, and which updates count as downgrades."""

from __future__ import annotations

import pytest

from crmsync.domain import Action, Change, CompanyId, FeatureId, OverrideId, OverrideValue, ValueType
from crmsync.reconcile.diff import DiffResult
from crmsync.reconcile.guards import (
    GuardPolicy,
    baseline_counts,
    check_guards,
    is_downgrade,
    shrunk_sources,
    withhold_deletes,
)
from crmsync.reconcile.notices import RefusalKind, WarningKind
from crmsync.reconcile.plan import Plan
from tests.core.builders import desired, live, numeric

POLICY = GuardPolicy()
ON = OverrideValue(ValueType.BOOLEAN, value_bool=True)
OFF = OverrideValue(ValueType.BOOLEAN, value_bool=False)
UNLIMITED = OverrideValue(ValueType.UNLIMITED)


def delete(n: int) -> Change:
    """A delete of owned override cmov_{n}."""
    before = live(f"cmov_{n}", f"comp_{n}", "feat_seats", numeric(5))
    return Change(Action.DELETE, CompanyId(f"comp_{n}"), FeatureId("feat_seats"), before, None, "gone")


def update(before: OverrideValue, after: OverrideValue, n: int = 0) -> Change:
    """An update of owned override cmov_u{n} from one value to another."""
    company, feature = CompanyId(f"comp_u{n}"), FeatureId("feat_seats")
    old, new = live(f"cmov_u{n}", company, feature, before), desired(company, feature, after)
    return Change(Action.UPDATE, company, feature, old, new, "")


def create(n: int) -> Change:
    """A create for comp_c{n}."""
    company, feature = CompanyId(f"comp_c{n}"), FeatureId("feat_seats")
    return Change(Action.CREATE, company, feature, None, desired(company, feature, numeric(1)), "")


def deletes(count: int) -> Plan:
    """A plan of `count` deletes."""
    return Plan(tuple(delete(n) for n in range(count)))


def test_four_affected_never_refuses_whatever_the_share() -> None:
    """4 deletes of 4 owned overrides (100%) is under the minimum of 5 affected: allowed."""
    assert check_guards(deletes(4), 4, POLICY) == []


def test_exactly_ten_percent_does_not_refuse() -> None:
    """5 of 50 owned overrides is exactly the 10% limit: allowed."""
    assert check_guards(deletes(5), 50, POLICY) == []


def test_just_over_ten_percent_refuses() -> None:
    """5 of 49 owned overrides (10.2%) is over the limit: refused."""
    (refusal,) = check_guards(deletes(5), 49, POLICY)
    assert refusal.affected == 5 and refusal.owned == 49 and "(10.2%)" in str(refusal)


def test_the_refusal_is_data_naming_the_numbers_and_the_threshold_but_no_flag() -> None:
    """A refusal carries its kind and numbers; its words name the share and limit, never a CLI flag."""
    (refusal,) = check_guards(deletes(6), 20, POLICY)
    assert (refusal.kind, refusal.affected, refusal.owned, refusal.limit) == (RefusalKind.MASS_CHANGE_SHARE, 6, 20, 10)
    assert str(refusal) == (
        "6 of 20 owned overrides (30%) would be deleted or downgraded; the limit is 10% when at least 5 are affected"
    )
    assert refusal.to_json()["kind"] == "mass-change-share" and "--" not in str(refusal)


def test_more_than_the_absolute_count_refuses_even_at_a_small_share() -> None:
    """51 deletes of 10,000 owned overrides (0.5%) exceeds the absolute limit of 50."""
    (refusal,) = check_guards(deletes(51), 10_000, POLICY)
    assert "51 owned overrides would be deleted or downgraded; the limit is 50 per run" in str(refusal)


def test_the_absolute_count_itself_is_allowed() -> None:
    """Exactly 50 deletes of 10,000 owned overrides: allowed."""
    assert check_guards(deletes(50), 10_000, POLICY) == []


def test_both_guards_are_reported() -> None:
    """A plan tripping the share and the count guard gets one refusal of each kind."""
    kinds = [r.kind for r in check_guards(deletes(60), 100, POLICY)]
    assert kinds == [RefusalKind.MASS_CHANGE_SHARE, RefusalKind.MASS_CHANGE_COUNT]


def test_creates_and_upgrades_never_count() -> None:
    """Only deletes and downgrades take something away; creates and upgrades do not count."""
    plan = Plan(tuple(create(n) for n in range(60)) + tuple(update(numeric(1), numeric(2), n) for n in range(60)))
    assert check_guards(plan, 10, POLICY) == []


def test_downgrades_count_like_deletes() -> None:
    """Five updates that grant less, of 20 owned overrides (25%), are refused."""
    plan = Plan(tuple(update(numeric(50), numeric(40), n) for n in range(5)))
    assert [r.affected for r in check_guards(plan, 20, POLICY)] == [5]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (numeric(50), numeric(40), True),
        (numeric(40), numeric(50), False),
        (numeric(40), numeric(40), False),
        (UNLIMITED, numeric(1_000_000), True),
        (numeric(1_000_000), UNLIMITED, False),
        (ON, OFF, True),
        (OFF, ON, False),
    ],
    ids=["fewer", "more", "same", "unlimited-to-number", "number-to-unlimited", "on-to-off", "off-to-on"],
)
def test_a_downgrade_is_an_update_that_grants_less(before: OverrideValue, after: OverrideValue, expected: bool) -> None:
    """Generosity decides: unlimited beats any number, on beats off, more beats fewer."""
    assert is_downgrade(update(before, after)) is expected


def test_allow_mass_change_refuses_nothing() -> None:
    """--allow-mass-change: the same 100% plan is allowed, for this run."""
    assert check_guards(deletes(20), 20, GuardPolicy(allow_mass_change=True)) == []


def test_thresholds_come_from_the_policy() -> None:
    """A stricter policy refuses 2 of 10 (20%) when it needs only 2 affected and allows 15%."""
    strict = GuardPolicy(max_percent=15, min_affected=2)
    assert check_guards(deletes(2), 10, strict) and not check_guards(deletes(2), 14, strict)


def test_a_source_with_no_deals_is_shrunk() -> None:
    """Zero deals is suspicious even with no earlier apply to compare with."""
    assert shrunk_sources({"hubspot": 0}, {}, POLICY) == {"hubspot": "hubspot returned no deals"}


def test_a_source_under_half_of_its_last_count_is_shrunk() -> None:
    """49 deals after 100 is under 50%: shrunk, and the warning names both numbers."""
    assert shrunk_sources({"hubspot": 49}, {"hubspot": 100}, POLICY) == {
        "hubspot": "hubspot returned 49 deals, under 50% of the 100 of the last successful apply"
    }


def test_exactly_half_of_the_last_count_is_not_shrunk() -> None:
    """50 deals after 100 is the boundary: not shrunk; a source never applied is never shrunk."""
    assert shrunk_sources({"hubspot": 50, "salesforce": 3}, {"hubspot": 100}, POLICY) == {}


def test_withholding_drops_only_the_deletes_a_shrunk_source_drives() -> None:
    """Deletes driven by the shrunk source go; other deletes, creates and updates stay; the warning counts."""
    changes = (delete(1), delete(2), delete(3), create(1), update(numeric(1), numeric(2)))
    sources = {OverrideId("cmov_1"): ("hubspot",), OverrideId("cmov_2"): ("hubspot", "salesforce")}
    sources[OverrideId("cmov_3")] = ("salesforce",)
    kept, warnings = withhold_deletes(DiffResult(changes, ()), sources, {"hubspot": "hubspot returned no deals"})
    assert [c.before.id if c.before else c.action for c in kept.changes] == ["cmov_3", Action.CREATE, "cmov_u0"]
    (warning,) = warnings
    assert (warning.kind, warning.source, warning.withheld) == (WarningKind.SOURCE_SHRUNK, "hubspot", {"delete": 2})
    assert str(warning) == "hubspot returned no deals; 2 delete(s) of overrides it drives are withheld this run"


def test_withholding_drops_the_downgrades_a_shrunk_source_drives_too() -> None:
    """125 → 75 of an override the shrunk source drives is withheld; an upgrade and others' downgrades stay."""
    down, up, other = update(numeric(125), numeric(75), 1), update(numeric(5), numeric(9), 2), update(ON, OFF, 3)
    sources = {OverrideId(f"cmov_u{n}"): ("hubspot", "salesforce") for n in (1, 2)} | {OverrideId("cmov_u3"): ()}
    kept, warnings = withhold_deletes(DiffResult((delete(1), down, up, other), ()), sources, {"salesforce": "s"})
    assert kept.changes == (delete(1), up, other)
    assert [str(w) for w in warnings] == ["s; 1 downgrade(s) of overrides it drives are withheld this run"]


def test_a_partial_read_withholds_the_downgrades_of_what_its_source_drives() -> None:
    """A partial salesforce read: the sum 125 → 75 is withheld, whatever the guard policy; the warning counts it."""
    change = update(numeric(125), numeric(75))
    sources = {OverrideId("cmov_u0"): ("hubspot", "salesforce")}
    why = {"salesforce": "salesforce read was partial (stopped early)"}
    kept, warnings = withhold_deletes(DiffResult((change, create(1)), ()), sources, {}, partial=why)
    assert kept.changes == (create(1),)
    assert [str(w) for w in warnings] == [
        "salesforce read was partial (stopped early); no override it drives is deleted or downgraded this run: "
        "1 downgrade(s) of overrides it drives are withheld"
    ]
    assert warnings[0].kind is WarningKind.PARTIAL_READ


def test_a_partial_read_that_would_take_nothing_away_says_so() -> None:
    """Nothing to withhold: the partial read is still reported, with no count."""
    _, warnings = withhold_deletes(DiffResult((create(1),), ()), {}, {}, partial={"hubspot": "hubspot read was cut"})
    expected = "hubspot read was cut; no override it drives is deleted or downgraded this run"
    assert [str(w) for w in warnings] == [expected]


def test_a_shrunk_source_keeps_its_old_baseline() -> None:
    """After an apply, a shrunk source's count is not remembered (its deletes stay withheld); others are."""
    assert baseline_counts({"hubspot": 0, "salesforce": 7}, {"hubspot": 10}, POLICY) == {"salesforce": 7}
    allowed = GuardPolicy(allow_mass_change=True)
    assert baseline_counts({"hubspot": 0}, {"hubspot": 10}, allowed) == {"hubspot": 0}
