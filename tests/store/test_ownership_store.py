"""The ledger's side of drift, release and adoption, on SQLite and PostgreSQL: what crmsync last
applied reads back, a released row leaves the owned set, and adoption makes a row active."""

from __future__ import annotations

from crmsync.domain import Action, Change, CompanyId, FeatureId
from crmsync.mapping.translate import Translation
from crmsync.reconcile.adopt import Adoption
from crmsync.reconcile.plan import Plan
from crmsync.service.context import PlanRun
from crmsync.service.ownership import held_keys
from crmsync.service.safety import unmanaged
from crmsync.store.repository import Store
from tests.core.builders import desired, live, numeric


def owned_row(s: Store) -> None:
    """One active ledger row: cmov_1 at comp_a / feat_x, last applied 75."""
    s.record_intent("tok1", "comp_a", "feat_x", ["hubspot"], {"value_type": "numeric", "value_numeric": 75}, "n")
    s.confirm("tok1", "cmov_1")


def test_the_last_applied_value_reads_back_with_the_row(store: Store) -> None:
    """Drift detection is fed the value crmsync last wrote, updates included."""
    owned_row(store)
    assert store.owned()[0].last_applied == {"value_type": "numeric", "value_numeric": 75}
    store.record_update("cmov_1", ["hubspot"], {"value_type": "numeric", "value_numeric": 80}, "n2")
    assert store.owned()[0].last_applied["value_numeric"] == 80


def test_a_released_row_is_no_longer_owned_and_is_listed_as_released(store: Store) -> None:
    """release moves an active row out of the owned set into the released list."""
    owned_row(store)
    store.release(["cmov_1", "cmov_unknown"])
    assert store.owned() == [] and [(r.override_id, r.status) for r in store.released()] == [("cmov_1", "released")]


def test_adopting_records_an_active_row_with_the_current_value(store: Store) -> None:
    """An override crmsync did not create becomes owned, its value now taken as last applied."""
    store.adopt("cmov_m", "comp_g", "feat_x", ["hubspot"], {"value_type": "numeric", "value_numeric": 35})
    (row,) = store.owned()
    assert (row.override_id, row.status, row.sources, row.last_applied["value_numeric"]) == (
        "cmov_m",
        "active",
        ("hubspot",),
        35,
    )


def test_adopting_a_released_override_makes_its_row_active_again(store: Store) -> None:
    """Release then adopt: the same ledger row, active again, no duplicate."""
    owned_row(store)
    store.release(["cmov_1"])
    store.adopt("cmov_1", "comp_a", "feat_x", ["hubspot"], {"value_type": "numeric", "value_numeric": 5})
    assert [(o.token, o.status) for o in store.owned()] == [("tok1", "active")] and store.released() == []


def test_a_stale_create_intent_does_not_unhold_a_released_pair(store: Store) -> None:
    """An old unconfirmed intent at a released pair leaves the pair held; a new active row frees it."""
    store.record_intent("lost", "comp_a", "feat_x", ["hubspot"], {"value_type": "numeric", "value_numeric": 75}, "n")
    owned_row(store)
    store.release(["cmov_1"])
    assert held_keys(store.released(), store.owned()) == {("comp_a", "feat_x")}
    store.adopt("cmov_2", "comp_a", "feat_x", ["hubspot"], {"value_type": "numeric", "value_numeric": 5})
    assert held_keys(store.released(), store.owned()) == set()


def test_a_plan_made_before_a_release_may_not_create_update_or_adopt_there(store: Store) -> None:
    """After releasing cmov_1 the plan's create at its pair, update of it and adoption of it are each named."""
    owned_row(store)
    store.release(["cmov_1"])
    key = (CompanyId("comp_a"), FeatureId("feat_x"))
    want, before = desired(*key, numeric(90)), live("cmov_1", *key, numeric(75))
    changes = (Change(Action.CREATE, *key, None, want, ""), Change(Action.UPDATE, *key, before, want, ""))
    plan = Plan(changes, adoptions=(Adoption(before, want, auto=True),))
    run = PlanRun(plan, (), Translation((), (), ()), (), ())
    assert unmanaged(run, store.owned(), store.released()) == [
        "override cmov_1 (comp_a / feat_x): it was released",
        "comp_a / feat_x: the pair was released (not created again)",
    ]
    store.adopt("cmov_1", "comp_a", "feat_x", ["hubspot"], {"value_type": "numeric", "value_numeric": 75})
    assert unmanaged(run, store.owned(), store.released()) == []
