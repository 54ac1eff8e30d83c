"""The pure diff: create what is missing, update what differs, delete what is no longer
wanted, and never touch an override crmsync does not own."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from crmsync.domain import (
    Action,
    CompanyId,
    DesiredOverride,
    FeatureId,
    LiveOverride,
    OverrideId,
    OverrideValue,
    ValueType,
)
from crmsync.reconcile.diff import diff
from tests.core.builders import desired, live, numeric

KEY = (CompanyId("comp_a"), FeatureId("feat_seats"))


def test_a_missing_override_is_created() -> None:
    """Desired and absent → create."""
    result = diff({KEY: desired(*KEY, numeric(5))}, [], set())
    assert [c.action for c in result.changes] == [Action.CREATE]


def test_an_owned_override_with_another_value_is_updated() -> None:
    """Owned and different → update in place (this also restores manual edits)."""
    result = diff({KEY: desired(*KEY, numeric(5))}, [live("cmov_1", *KEY, numeric(3))], {OverrideId("cmov_1")})
    assert [(c.action, c.before.id if c.before else None) for c in result.changes] == [(Action.UPDATE, "cmov_1")]


def test_an_owned_override_no_longer_desired_is_deleted() -> None:
    """Owned and no longer desired → delete."""
    result = diff({}, [live("cmov_1", *KEY, numeric(3))], {OverrideId("cmov_1")})
    assert [c.action for c in result.changes] == [Action.DELETE]


def test_an_unowned_override_is_never_updated_and_is_a_conflict() -> None:
    """An override crmsync did not create is never updated; it is shown as a conflict."""
    result = diff({KEY: desired(*KEY, numeric(5))}, [live("cmov_m", *KEY, numeric(3))], set())
    assert result.changes == () and [c.live.id for c in result.conflicts] == ["cmov_m"]


def test_an_unowned_override_is_never_deleted() -> None:
    """An override crmsync did not create is never deleted, whatever the mapping says."""
    assert diff({}, [live("cmov_m", *KEY, numeric(3))], set()).changes == ()


def test_kept_overrides_are_not_deleted() -> None:
    """Overrides of a source whose read was partial are not deleted."""
    assert (
        diff({}, [live("cmov_1", *KEY, numeric(3))], {OverrideId("cmov_1")}, keep={OverrideId("cmov_1")}).changes == ()
    )


def test_scope_limits_the_diff_to_some_companies() -> None:
    """A scoped reconcile neither creates nor deletes outside its companies."""
    other = (CompanyId("comp_b"), FeatureId("feat_seats"))
    result = diff(
        {other: desired(*other, numeric(1))},
        [live("cmov_1", *KEY, numeric(3))],
        {OverrideId("cmov_1")},
        scope={CompanyId("comp_c")},
    )
    assert result.changes == ()


def test_owned_duplicates_are_cleaned_up() -> None:
    """Two owned overrides for one company and feature: one is kept, the other deleted."""
    result = diff(
        {KEY: desired(*KEY, numeric(5))},
        [live("cmov_1", *KEY, numeric(5)), live("cmov_2", *KEY, numeric(5))],
        {OverrideId("cmov_1"), OverrideId("cmov_2")},
    )
    assert [c.action for c in result.changes] == [Action.DELETE]


# --- properties -----------------------------------------------------------------------------

companies = st.sampled_from([CompanyId(f"comp_{c}") for c in "abc"])
features = st.sampled_from([FeatureId(f"feat_{f}") for f in "xyz"])
values = st.integers(min_value=0, max_value=5).map(numeric)
desired_maps = st.dictionaries(st.tuples(companies, features), values, max_size=6).map(
    lambda d: {k: desired(k[0], k[1], v) for k, v in d.items()}
)


@st.composite
def live_sets(draw: st.DrawFn) -> tuple[list[LiveOverride], set[OverrideId]]:
    items = draw(st.lists(st.tuples(companies, features, values, st.booleans()), max_size=8))
    overrides = [live(f"cmov_{i}", c, f, v) for i, (c, f, v, _) in enumerate(items)]
    owned = {OverrideId(f"cmov_{i}") for i, (*_, mine) in enumerate(items) if mine}
    return overrides, owned


def apply_changes(lives: list[LiveOverride], owned: set[OverrideId], want: dict) -> list[LiveOverride]:  # type: ignore[type-arg]
    """A model of Schematic: apply a diff's changes to a list of overrides."""
    result = {o.id: o for o in lives}
    for n, change in enumerate(diff(want, lives, owned).changes):
        if change.action is Action.DELETE:
            assert change.before is not None
            del result[change.before.id]
        elif change.action is Action.UPDATE:
            assert change.before and change.after
            result[change.before.id] = live(change.before.id, change.company_id, change.feature_id, change.after.value)
        else:
            assert change.after is not None
            new_id = OverrideId(f"cmov_new{n}")
            result[new_id] = live(new_id, change.company_id, change.feature_id, change.after.value)
            owned.add(new_id)
    return list(result.values())


@given(desired_maps, live_sets())
def test_diff_of_a_state_with_itself_is_empty(
    want: dict[tuple[CompanyId, FeatureId], DesiredOverride], state: tuple[list[LiveOverride], set[OverrideId]]
) -> None:
    """diff(x, x) is empty: once applied, nothing is left to change."""
    lives, owned = state
    owned = set(owned)
    after = apply_changes(lives, owned, want)
    assert diff(want, after, owned).changes == ()


@given(desired_maps, live_sets())
def test_no_change_touches_an_unowned_override(
    want: dict[tuple[CompanyId, FeatureId], DesiredOverride], state: tuple[list[LiveOverride], set[OverrideId]]
) -> None:
    """Updates and deletes only ever name owned overrides (deletes ⊆ owned)."""
    lives, owned = state
    for change in diff(want, lives, owned).changes:
        if change.action is not Action.CREATE:
            assert change.before is not None and change.before.id in owned


@given(desired_maps, live_sets())
def test_applying_the_diff_yields_the_desired_values_on_owned_keys(
    want: dict[tuple[CompanyId, FeatureId], DesiredOverride], state: tuple[list[LiveOverride], set[OverrideId]]
) -> None:
    """After applying diff(desired, live), each desired key without a foreign override has the desired value."""
    lives, owned = state
    foreign = {(o.company_id, o.feature_id) for o in lives if o.id not in owned}
    owned = set(owned)
    after = apply_changes(lives, owned, want)
    mine = [o for o in after if o.id in owned]
    for key, d in want.items():
        if key in foreign:
            continue
        assert [o.value for o in mine if (o.company_id, o.feature_id) == key] == [d.value]
    assert {(o.company_id, o.feature_id) for o in mine} <= set(want)
    assert [o for o in after if o.id not in owned] == [o for o in lives if o.id not in owned]


def test_an_owned_override_past_its_expiry_is_left_in_place() -> None:
    """Expired owned overrides are inert in Schematic: not deleted, not re-created."""
    gone = OverrideValue(ValueType.NUMERIC, value_numeric=3, expiration=datetime(2026, 1, 1, tzinfo=UTC))
    result = diff({}, [live("cmov_1", *KEY, gone)], {OverrideId("cmov_1")}, now=datetime(2026, 6, 1, tzinfo=UTC))
    assert result.changes == ()
