"""Adoption, pure: which unowned overrides crmsync could take over, and which apply takes over
on its own (`on_conflict: adopt`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from crmsync.domain import CompanyId, FeatureId, OverrideId
from crmsync.reconcile.adopt import adoptable
from crmsync.reconcile.diff import diff
from tests.core.builders import desired, live, numeric

KEY = (CompanyId("comp_g"), FeatureId("feat_seats"))
WANT = {KEY: desired(*KEY, numeric(40))}
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_conflict_where_crmsync_owns_nothing_is_adoptable() -> None:
    """The manual override in the way is previewed with its value and the deals' value."""
    manual = live("cmov_m", *KEY, numeric(35))
    (found,) = adoptable(diff(WANT, [manual], set()).conflicts, set())
    assert (found.live.id, found.desired.value) == ("cmov_m", numeric(40))
    assert not found.value_matches and not found.auto


def test_a_pair_crmsync_already_owns_an_override_at_is_not_adoptable() -> None:
    """An unowned duplicate next to crmsync's own override stays a conflict only."""
    overrides = [live("cmov_1", *KEY, numeric(40)), live("cmov_m", *KEY, numeric(35))]
    result = diff(WANT, overrides, {OverrideId("cmov_1")})
    assert [c.live.id for c in result.conflicts] == ["cmov_m"] and adoptable(result.conflicts, {KEY}) == ()


def test_of_duplicated_unowned_overrides_the_newest_is_adoptable() -> None:
    """Two manual overrides for one pair: the newest is adopted, the other stays a conflict."""
    old = replace(live("cmov_old", *KEY, numeric(35)), created_at=T0)
    new = replace(live("cmov_new", *KEY, numeric(38)), created_at=T0.replace(month=6))
    assert [a.live.id for a in adoptable(diff(WANT, [old, new], set()).conflicts, set())] == ["cmov_new"]


def test_apply_adopts_on_its_own_only_where_the_mapping_says_and_never_a_released_pair() -> None:
    """`auto` follows the mapping files, except for a pair released from management."""
    conflicts = diff(WANT, [live("cmov_m", *KEY, numeric(40))], set()).conflicts
    (auto,) = adoptable(conflicts, set(), auto=lambda want: True)
    (held,) = adoptable(conflicts, set(), auto=lambda want: True, held={KEY})
    assert (auto.auto, auto.value_matches, held.auto) == (True, True, False)
