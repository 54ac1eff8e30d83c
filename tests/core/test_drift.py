"""Drift detection and policies, pure: an owned override edited or deleted by hand since crmsync
last applied it is found, and overwrite, keep and fail each shape the diff as documented."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from crmsync.domain import (
    Action,
    CompanyId,
    DesiredOverride,
    FeatureId,
    LiveOverride,
    MetricPeriod,
    MonthReset,
    OverrideId,
    OverrideValue,
    ValueType,
)
from crmsync.reconcile.diff import DiffResult, diff
from crmsync.reconcile.drift import Applied, Drift, DriftAction, DriftPolicy, detect, settle
from crmsync.reconcile.guards import drift_refusal
from crmsync.reconcile.plan import Plan, value_from_json, value_json
from tests.core.builders import NOW, desired, live, numeric

Key = tuple[CompanyId, FeatureId]
KEY = (CompanyId("comp_a"), FeatureId("feat_seats"))
ID = OverrideId("cmov_1")
APPLIED = Applied(ID, *KEY, numeric(75))
WANT = {KEY: desired(*KEY, numeric(75))}


def policy(chosen: DriftPolicy) -> Callable[[DesiredOverride], DriftPolicy]:
    """A policy lookup that answers `chosen` for every desired override."""
    return lambda want: chosen


def run(
    chosen: DriftPolicy, overrides: Sequence[LiveOverride], want: Mapping[Key, DesiredOverride] = WANT
) -> tuple[DiffResult, tuple[Drift, ...]]:
    """detect → diff → settle, as build_plan does, for the one ledger row APPLIED."""
    found = detect([APPLIED], overrides, want, policy(chosen), now=NOW)
    return settle(diff(want, overrides, {ID}, now=NOW), found)


def test_an_edited_owned_override_under_overwrite_is_restored_and_reported() -> None:
    """Edited 75 → 5, overwrite: the diff's update stays and the drift says restore."""
    result, drift = run(DriftPolicy.OVERWRITE, [live("cmov_1", *KEY, numeric(5))])
    assert [c.action for c in result.changes] == [Action.UPDATE]
    assert [(d.action, d.last_applied, d.live) for d in drift] == [(DriftAction.RESTORE, numeric(75), numeric(5))]
    assert drift[0].describe() == "edited by hand: 75 → 5; would restore (drift: overwrite)"


def test_an_edited_owned_override_under_keep_is_left_and_reported() -> None:
    """keep: no update for it, and it is reported as kept."""
    result, drift = run(DriftPolicy.KEEP, [live("cmov_1", *KEY, numeric(5))])
    assert result.changes == () and [d.action for d in drift] == [DriftAction.KEEP]


def test_an_edited_owned_override_under_fail_keeps_the_update_for_apply_to_refuse() -> None:
    """fail: the plan still shows the restoring update; the drift says refuse."""
    result, drift = run(DriftPolicy.FAIL, [live("cmov_1", *KEY, numeric(5))])
    assert [c.action for c in result.changes] == [Action.UPDATE] and [d.action for d in drift] == [DriftAction.REFUSE]


def test_an_owned_override_deleted_by_hand_is_recreated_under_overwrite() -> None:
    """Gone from Schematic, still desired, overwrite: created again."""
    result, drift = run(DriftPolicy.OVERWRITE, [])
    assert [c.action for c in result.changes] == [Action.CREATE]
    assert [(d.action, d.live) for d in drift] == [(DriftAction.RECREATE, None)]


def test_an_owned_override_deleted_by_hand_is_released_under_keep() -> None:
    """Gone, keep: no create, and the pair is released."""
    result, drift = run(DriftPolicy.KEEP, [])
    assert result.changes == () and [d.action for d in drift] == [DriftAction.RELEASE]


def test_an_owned_override_deleted_by_hand_under_fail_is_refused() -> None:
    """Gone, fail: the create stays in the plan for apply to refuse."""
    result, drift = run(DriftPolicy.FAIL, [])
    assert [c.action for c in result.changes] == [Action.CREATE] and [d.action for d in drift] == [DriftAction.REFUSE]


def test_deleted_is_only_judged_for_companies_the_live_read_covered() -> None:
    """A scoped read of another company says nothing about this one's overrides."""
    assert detect([APPLIED], [], WANT, policy(DriftPolicy.KEEP), scope={CompanyId("comp_b")}) == ()


def test_an_override_equal_to_what_crmsync_applied_is_no_drift() -> None:
    """Live equals last applied: nothing to report, whatever the deals now want."""
    want = {KEY: desired(*KEY, numeric(80))}
    assert detect([APPLIED], [live("cmov_1", *KEY, numeric(75))], want, policy(DriftPolicy.FAIL)) == ()


def test_an_edit_that_already_equals_the_desired_value_is_no_drift() -> None:
    """Edited to exactly what the deals now want: nothing to do, nothing to report."""
    want = {KEY: desired(*KEY, numeric(80))}
    assert detect([APPLIED], [live("cmov_1", *KEY, numeric(80))], want, policy(DriftPolicy.FAIL)) == ()


def test_an_edited_override_no_longer_desired_is_deleted_under_any_policy() -> None:
    """No deal grants it any more: overwrite applies and it is deleted as usual."""
    result, drift = run(DriftPolicy.KEEP, [live("cmov_1", *KEY, numeric(5))], want={})
    assert [c.action for c in result.changes] == [Action.DELETE]
    assert [(d.policy, d.action) for d in drift] == [(DriftPolicy.OVERWRITE, DriftAction.DELETE)]


def test_a_delete_the_diff_withholds_is_not_reported_as_drift() -> None:
    """An edited override kept by a partial read: neither deleted nor reported."""
    found = detect([APPLIED], [live("cmov_1", *KEY, numeric(5))], {}, policy(DriftPolicy.KEEP), keep={ID})
    assert found == ()


def test_an_override_deleted_by_hand_and_no_longer_desired_is_forgotten() -> None:
    """Gone and not wanted: the ledger row is closed, nothing is written."""
    result, drift = run(DriftPolicy.KEEP, [], want={})
    assert result.changes == () and [d.action for d in drift] == [DriftAction.FORGET]


def test_a_recreate_blocked_by_another_override_becomes_forget() -> None:
    """Someone deleted crmsync's override and made their own: a conflict, and the old row is closed."""
    other = live("cmov_m", *KEY, numeric(9))
    result, drift = run(DriftPolicy.OVERWRITE, [other])
    assert result.changes == () and [c.live.id for c in result.conflicts] == ["cmov_m"]
    assert [d.action for d in drift] == [DriftAction.FORGET]


def test_a_held_pair_is_never_created() -> None:
    """A released (company, feature) gets no create while it stays released."""
    result, _ = settle(diff(WANT, [], set()), (), held={KEY})
    assert result.changes == ()


def test_a_withheld_restore_is_not_reported_as_restored() -> None:
    """Edited 75 → 100 while a partial read withholds the downgrade back: no change, no "restored" drift."""
    edited = [live("cmov_1", *KEY, numeric(100))]
    found = detect([APPLIED], edited, WANT, policy(DriftPolicy.OVERWRITE), now=NOW)
    assert [d.action for d in found] == [DriftAction.RESTORE]
    assert settle(DiffResult((), ()), found) == (DiffResult((), ()), ())


def test_the_strictest_policy_of_several_rules_wins() -> None:
    """fail beats keep beats overwrite; no rule at all means overwrite."""
    assert DriftPolicy.strictest([DriftPolicy.OVERWRITE, DriftPolicy.FAIL, DriftPolicy.KEEP]) is DriftPolicy.FAIL
    assert DriftPolicy.strictest([DriftPolicy.OVERWRITE, DriftPolicy.KEEP]) is DriftPolicy.KEEP
    assert DriftPolicy.strictest([]) is DriftPolicy.OVERWRITE


def test_the_fail_refusal_names_the_company_feature_override_and_policy() -> None:
    """apply's message says which override drifted, how, and under which policy."""
    _, drift = run(DriftPolicy.FAIL, [live("cmov_1", *KEY, numeric(5))])
    refusal = drift_refusal(Plan((), drift=drift, names={"comp_a": "Acme", "feat_seats": "Seats"}))
    assert refusal is not None and refusal.overrides == ("cmov_1",)
    message = str(refusal)
    assert "Acme / Seats (override cmov_1) was edited by hand: 75 → 5" in message and "drift: fail" in message
    assert drift_refusal(Plan(())) is None


values = st.builds(
    OverrideValue,
    value_type=st.sampled_from(ValueType),
    value_bool=st.none() | st.booleans(),
    value_numeric=st.none() | st.integers(0, 10**9),
    value_trait_id=st.none() | st.text(min_size=1, max_size=20),
    metric_period=st.none() | st.sampled_from(MetricPeriod),
    month_reset=st.none() | st.sampled_from(MonthReset),
    expiration=st.none()
    | st.datetimes(datetime(2020, 1, 1), datetime(2040, 1, 1)).map(lambda d: d.replace(microsecond=0, tzinfo=UTC)),
)


@given(values)
def test_a_ledger_value_reads_back_as_the_value_crmsync_applied(value: OverrideValue) -> None:
    """value_from_json(value_json(v)) == v, so an untouched override is never mistaken for drift."""
    assert value_from_json(value_json(value)) == value


@given(st.lists(st.integers(0, 1000), min_size=1, max_size=8))
def test_overrides_untouched_since_crmsync_applied_them_are_never_drift(seats: list[int]) -> None:
    """Whatever the deals want now, an override still at its last-applied value is no drift."""
    keys = [(CompanyId(f"comp_{n}"), FeatureId("feat_seats")) for n in range(len(seats))]
    pairs = list(zip(keys, seats, strict=True))
    applied = [Applied(OverrideId(f"cmov_{n}"), *k, numeric(s)) for n, (k, s) in enumerate(pairs)]
    overrides = [live(a.override_id, a.company_id, a.feature_id, a.value) for a in applied]
    want = {k: desired(*k, numeric(s + 1)) for k, s in pairs}
    assert detect(applied, overrides, want, policy(DriftPolicy.FAIL)) == ()
