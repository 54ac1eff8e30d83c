"""The store's part in the guarantees, on SQLite and PostgreSQL alike: per-source deal counts
(the guards' baseline), the last run of a kind, and a run's per-change results."""

from __future__ import annotations

from crmsync.store.repository import ChangeResult, Store


def test_source_counts_are_remembered_and_overwritten(store: Store) -> None:
    """Saving counts adds new sources and replaces old counts; other sources keep theirs."""
    assert store.source_counts() == {}
    store.save_source_counts({"hubspot": 11, "salesforce": 4})
    store.save_source_counts({"hubspot": 12})
    assert store.source_counts() == {"hubspot": 12, "salesforce": 4}


def test_last_run_picks_the_newest_of_a_command_and_status(store: Store) -> None:
    """The newest apply that ended ok or failed, skipping plans and refused applies after it."""
    first = store.start_run("apply", "manual")
    store.finish_run(first, "ok", {}, [])
    refused = store.start_run("apply", "manual")
    store.finish_run(refused, "refused", {}, ["refusing to apply"])
    store.finish_run(store.start_run("plan", "manual"), "ok", {}, [])
    found = store.last_run(("apply",), ("ok", "failed"))
    assert found is not None and found.id == first
    assert store.last_run(("demo",), ("ok",)) is None


def test_run_changes_come_back_in_order(store: Store) -> None:
    """A run's per-change results are read back as they were recorded."""
    results = [
        ChangeResult("delete", "comp_a", "feat_x", "cmov_1", True),
        ChangeResult("create", "comp_b", "feat_x", None, False, "422 rejected"),
    ]
    run_id = store.start_run("apply", "manual")
    store.finish_run(run_id, "failed", {}, ["422 rejected"], results)
    assert store.run_changes(run_id) == results
