"""The mass-change guard over a window, pure: runs one company at a time add up to no more than one
full run may take, and a held plan keeps everything but its deletes and downgrades. Pure."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from crmsync.domain import Action, Change, CompanyId, FeatureId
from crmsync.reconcile.guard_window import Spent, counts, window_refusals, withhold_affected
from crmsync.reconcile.guards import GuardPolicy, judge
from crmsync.reconcile.notices import WarningKind
from crmsync.reconcile.plan import Plan
from crmsync.reconcile.withheld import withheld_count, withheld_lines
from tests.core.builders import desired, live, numeric

POLICY = GuardPolicy()


def delete(n: int) -> Change:
    before = live(f"cmov_{n}", f"comp_{n}", "feat_seats", numeric(5))
    return Change(Action.DELETE, CompanyId(f"comp_{n}"), FeatureId("feat_seats"), before, None, "gone")


def create(n: int) -> Change:
    company, feature = CompanyId(f"comp_{n}"), FeatureId("feat_sso")
    return Change(Action.CREATE, company, feature, None, desired(company, feature, numeric(1)), "won")


@given(owned=st.integers(0, 300), runs=st.lists(st.integers(0, 8), max_size=60))
def test_runs_in_one_window_never_delete_more_than_one_full_run_may(owned: int, runs: list[int]) -> None:
    """Whatever the sizes of the runs, the deletes let through in one window stay within what the
    guard lets one run delete from the same owned overrides."""
    spent, left, start = Spent(), owned, 0
    for size in runs:
        plan = Plan(tuple(delete(start + i) for i in range(min(size, left))))
        start += size
        if not window_refusals(plan, spent, left, POLICY):
            taken = len(plan.changes)
            spent, left = Spent(spent.deletes + taken, 0), left - taken
    assert not judge(spent.total, owned, POLICY) or spent.total == 0


def test_a_held_plan_keeps_its_creates_and_says_what_it_withheld() -> None:
    """Past the window's budget the plan loses its deletes, keeps its creates, and counts as withheld."""
    plan = Plan((delete(1), delete(2), create(3)))
    spent = Spent(deletes=4)
    found = window_refusals(plan, spent, 36, POLICY)  # 6 of 40: over 10% with at least 5 affected
    assert found
    held = withhold_affected(plan, found, spent, POLICY)
    assert [c.action for c in held.changes] == [Action.CREATE]
    assert [w.kind for w in held.warnings] == [WarningKind.GUARD_WINDOW]
    assert withheld_count(held) == 2
    [line] = withheld_lines(held)
    assert line.startswith("2 change(s) withheld by the mass-change guard (its window): 2 deletion(s)/downgrade(s)")
    assert "with the 4 made in the last 1 hour(s), 6 of 40 owned overrides (15%)" in line


def test_an_allowed_run_or_a_zero_window_is_not_judged() -> None:
    """`--allow-mass-change` (an approval) and `window_seconds = 0` judge each run alone."""
    plan = Plan((delete(1),))
    spent = Spent(deletes=40)
    assert window_refusals(plan, spent, 40, POLICY)
    assert not window_refusals(plan, spent, 40, GuardPolicy(allow_mass_change=True))
    assert not window_refusals(plan, spent, 40, GuardPolicy(window_seconds=0))
    assert counts(list(plan.changes)) == Spent(1, 0)
