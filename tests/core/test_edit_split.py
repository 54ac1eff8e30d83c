"""The edit/pending split of `plan --base`: what a mapping edit changes, apart from what changes anyway."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from crmsync.domain import CompanyId, DesiredOverride, FeatureId, LiveOverride, OverrideValue
from crmsync.reconcile.diff import diff
from crmsync.reconcile.edit import outcome, split_edit
from crmsync.reconcile.plan import Plan
from tests.core.builders import NOW, desired, live, numeric

Key = tuple[CompanyId, FeatureId]


def plan_of(wanted: dict[Key, DesiredOverride], overrides: list[LiveOverride]) -> Plan:
    """The plan of some desired overrides against live ones crmsync owns."""
    return Plan.build(diff(wanted, overrides, {o.id for o in overrides}, now=NOW))


def values(held: dict[Key, LiveOverride | DesiredOverride]) -> dict[Key, OverrideValue]:
    """What Schematic would hold, as values."""
    return {k: v.value for k, v in held.items()}


def want(**by: int) -> dict[Key, DesiredOverride]:
    """Desired seats per company: want(acme=50)."""
    return {(CompanyId(c), FeatureId("seats")): desired(c, "seats", numeric(n)) for c, n in by.items()}


def test_the_same_mappings_make_no_edit_changes_and_leave_every_change_pending() -> None:
    """Base and head alike: the edit changes nothing; the base plan's changes are the pending ones."""
    overrides = [live("cmov_1", "acme", "seats", numeric(10))]
    plan = plan_of(want(acme=20, initech=5), overrides)
    split = split_edit(plan, plan, overrides, {}, NOW)
    assert split.edit == () and split.pending == plan.changes and len(split.pending) == 2


def test_an_edit_and_a_pending_crm_change_are_told_apart() -> None:
    """Acme's deal moved 10 → 20 (pending, both sets want 20); the edit gives Initech 7 instead of 5."""
    overrides = [live("cmov_1", "acme", "seats", numeric(10)), live("cmov_2", "initech", "seats", numeric(5))]
    base, head = plan_of(want(acme=20, initech=5), overrides), plan_of(want(acme=20, initech=7), overrides)
    split = split_edit(base, head, overrides, {}, NOW)
    assert [(c.company_id, c.action.value) for c in split.pending] == [("acme", "update")]
    ((change),) = split.edit
    assert (change.company_id, change.action.value) == ("initech", "update")
    assert change.before is not None and change.before.value == numeric(5) and change.before.id == "cmov_2"
    assert change.after is not None and change.after.value == numeric(7)


def test_an_edit_on_top_of_a_pending_change_starts_from_where_the_base_would_leave_it() -> None:
    """Live 10, the deal now says 20, the edit doubles it to 40: pending 10 → 20, edit 20 → 40."""
    overrides = [live("cmov_1", "acme", "seats", numeric(10))]
    split = split_edit(plan_of(want(acme=20), overrides), plan_of(want(acme=40), overrides), overrides, {}, NOW)
    ((pending),) = split.pending
    ((edit),) = split.edit
    assert pending.after is not None and pending.after.value == numeric(20)
    assert edit.before is not None and edit.before.value == numeric(20) and edit.before.id == "cmov_1"
    assert edit.after is not None and edit.after.value == numeric(40)


def test_an_edit_that_drops_a_rule_deletes_and_one_that_adds_it_creates() -> None:
    """Head wants nothing where base wants 20: a delete; the reverse: a create."""
    split = split_edit(plan_of(want(acme=20), []), plan_of({}, []), [], {}, NOW)
    assert [c.action.value for c in split.edit] == ["delete"]
    split = split_edit(plan_of({}, []), plan_of(want(acme=20), []), [], {}, NOW)
    assert [c.action.value for c in split.edit] == ["create"]


companies = st.sampled_from(["acme", "initech", "globex"])
seats = st.dictionaries(companies, st.integers(min_value=1, max_value=5), max_size=3)


@given(live_seats=seats, base_seats=seats, head_seats=seats)
def test_the_base_outcome_plus_the_edit_is_the_head_outcome(
    live_seats: dict[str, int], base_seats: dict[str, int], head_seats: dict[str, int]
) -> None:
    """Applying the pending changes, then the edit's, leaves Schematic as the head plan alone would."""
    overrides = [live(f"cmov_{c}", c, "seats", numeric(n)) for c, n in live_seats.items()]
    base, head = plan_of(want(**base_seats), overrides), plan_of(want(**head_seats), overrides)
    split = split_edit(base, head, overrides, {}, NOW)
    assert values(outcome(overrides, (*split.pending, *split.edit))) == values(outcome(overrides, head.changes))
    touched = {(c.company_id, c.feature_id) for c in split.edit}
    assert touched == {k for k in set(want(**base_seats)) | set(want(**head_seats))
                       if base_seats.get(k[0]) != head_seats.get(k[0])}  # fmt: skip
