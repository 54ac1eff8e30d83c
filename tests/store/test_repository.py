"""The state store behaves the same on SQLite and PostgreSQL (the `store` fixture, conftest.py):
ledger, intents, run history."""

from __future__ import annotations

import json

import pytest

from crmsync.errors import ServiceUnavailable
from crmsync.store.repository import ChangeResult, Store, redact


def test_an_intent_becomes_owned_once_confirmed(store: Store) -> None:
    """A create intent is listed as owned-in-progress, then active with its override id."""
    store.record_intent("tok1", "comp_a", "feat_x", ["hubspot"], {"value_type": "numeric"}, "note")
    assert [(o.token, o.status, o.override_id) for o in store.owned()] == [("tok1", "intent", None)]
    store.confirm("tok1", "cmov_1")
    assert [(o.override_id, o.status, o.sources) for o in store.owned()] == [("cmov_1", "active", ("hubspot",))]


def test_a_forgotten_intent_is_gone(store: Store) -> None:
    """A rejected create leaves no ledger row."""
    store.record_intent("tok1", "comp_a", "feat_x", ["hubspot"], {}, "note")
    store.forget("tok1")
    assert store.owned() == []


def test_deleted_overrides_are_no_longer_owned(store: Store) -> None:
    """After a delete the override leaves the owned set."""
    store.record_intent("tok1", "comp_a", "feat_x", ["hubspot"], {}, "note")
    store.confirm("tok1", "cmov_1")
    store.record_update("cmov_1", ["hubspot", "salesforce"], {"value_numeric": 5}, "note 2")
    assert store.owned()[0].sources == ("hubspot", "salesforce")
    store.record_delete("cmov_1")
    assert store.owned() == []


def test_the_ledger_is_read_whole_or_without_its_notes_and_equal_values_are_shared(store: Store) -> None:
    """A plan reads the ledger without the notes (it never uses them; `crmsync owned` reads them), and
    rows holding the same stored value share one parsed value, read-only."""
    for n in (1, 2):
        store.record_intent(f"tok{n}", f"comp_{n}", "feat_x", ["hubspot"], {"value_numeric": 5}, f"note {n}")
        store.confirm(f"tok{n}", f"cmov_{n}")
    whole, lean = store.owned(), store.owned(notes=False)
    assert [o.note for o in whole] == ["note 1", "note 2"] and [o.note for o in lean] == ["", ""]
    assert whole == lean  # the same rows otherwise
    assert whole[0].last_applied == {"value_numeric": 5} and whole[0].last_applied is whole[1].last_applied
    store.release(["cmov_2"])
    assert [(o.override_id, o.note) for o in store.released(notes=False)] == [("cmov_2", "")]


def test_runs_are_recorded_newest_first(store: Store) -> None:
    """Runs keep their command, status, counts and per-change results."""
    first = store.start_run("plan", "manual")
    store.finish_run(first, "ok", {"create": 1}, [])
    second = store.start_run("apply", "manual")
    store.finish_run(
        second, "failed", {"create": 1}, ["boom"], [ChangeResult("create", "comp_a", "feat_x", None, False, "boom")]
    )
    runs = store.runs()
    assert [(r.command, r.status) for r in runs] == [("apply", "failed"), ("plan", "ok")]
    assert [json.loads(r.summary_json) for r in runs] == [{"create": 1}, {"create": 1}]
    assert store.run_changes(second) == [ChangeResult("create", "comp_a", "feat_x", None, False, "boom")]
    assert store.run_changes(first) == []


def test_an_unreachable_database_is_one_error_naming_the_setting_without_the_password() -> None:
    """A database that cannot be reached raises ServiceUnavailable naming CRMSYNC_DATABASE_URL, password hidden."""
    with pytest.raises(ServiceUnavailable) as caught:
        Store("postgresql+psycopg://crmsync:hunter2@127.0.0.1:1/nowhere")
    assert "CRMSYNC_DATABASE_URL" in str(caught.value) and "hunter2" not in str(caught.value)
    assert "hunter2" not in redact("postgresql+psycopg://crmsync:hunter2@db/x")
