"""The ledger's side of drift, release and adoption, on SQLite and PostgreSQL: what crmsync last
applied reads back, a released row leaves the owned set, and adoption makes a row active."""

from __future__ import annotations

from crmsync.store.repository import Store
from tests.store import test_repository

store = test_repository.store  # the two-backend fixture: SQLite, and PostgreSQL when one is running


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
