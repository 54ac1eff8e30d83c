"""Migrations of the state database, on SQLite and PostgreSQL: from empty, from the schema crmsync
shipped before migrations, concurrently, and in step with store/tables.py."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text

from crmsync.store import schema
from crmsync.store.metadata import METADATA
from crmsync.store.migrations import BASELINE, HEAD, SCRIPT_LOCATION
from crmsync.store.repository import Store
from tests.databases import database_url
from tests.store.legacy_schema import create_legacy_schema

TABLES = {"owned_overrides", "runs", "run_changes", "cursors", "source_counts"}


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database on each backend (PostgreSQL: a schema of its own)."""
    with database_url(request.param, tmp_path) as empty:
        yield empty


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_head_is_the_newest_revision() -> None:
    """HEAD (what the cheap start-up check compares with) is the one head of versions/."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD]


def test_an_empty_database_is_upgraded_to_head(url: str) -> None:
    """Opening an empty database creates every table and records the newest revision."""
    store = Store(url)
    try:
        assert store.upgrade is not None and store.upgrade.before is None and not store.upgrade.stamped
        assert schema.current(store.engine) == HEAD
        assert _tables(url) >= TABLES | {"alembic_version"}
    finally:
        store.close()


def test_a_database_at_head_is_left_alone(url: str) -> None:
    """The second open finds the database at head and changes nothing."""
    Store(url).close()
    store = Store(url)
    try:
        assert store.upgrade is not None and not store.upgrade.changed
    finally:
        store.close()


def test_the_previous_schema_is_stamped_and_upgraded_keeping_rows(url: str) -> None:
    """A database the version before migrations made (create_all, no version) keeps its ledger and runs."""
    engine = create_engine(url)
    create_legacy_schema(engine)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            text(
                "insert into owned_overrides (token, override_id, company_id, feature_id, sources, value_json, "
                "note, status, created_at, updated_at) values ('t1', 'cmov_1', 'comp_1', 'feat_1', 'hubspot', "
                "'{\"type\": \"boolean\", \"value\": true}', 'n', 'active', :now, :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                'insert into runs (command, "trigger", started_at, status, summary_json, errors_json) '
                "values ('apply', 'manual', :now, 'ok', '{}', '[]')"
            ),
            {"now": now},
        )
    assert schema.is_legacy(engine)
    engine.dispose()
    store = Store(url)
    try:
        assert store.upgrade is not None and store.upgrade.stamped and store.upgrade.after == HEAD
        assert schema.current(store.engine) == HEAD and not schema.is_legacy(store.engine)
        [row] = store.owned()
        assert (row.token, row.override_id, row.company_id, row.last_applied) == (
            "t1",
            "cmov_1",
            "comp_1",
            {"type": "boolean", "value": True},
        )
        assert [r.command for r in store.runs()] == ["apply"]
        store.start_run("plan", "manual")  # the upgraded tables take new rows
        assert len(store.runs()) == 2
    finally:
        store.close()


def test_the_head_schema_equals_the_tables(url: str) -> None:
    """Autogenerate finds no difference between the migrated database and store/tables.py: a table
    edit without a migration fails here."""
    Store(url).close()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), METADATA)
    finally:
        engine.dispose()
    assert diff == []


def test_the_baseline_revision_is_the_previous_schema(url: str) -> None:
    """Revision 0001 makes the same tables, columns and indexes as the frozen pre-migration DDL."""
    engine = create_engine(url)
    try:
        create_legacy_schema(engine)
        before = _shape(engine)
        with engine.begin() as conn:
            for table in ("run_changes", "runs", "owned_overrides", "cursors", "source_counts"):
                conn.execute(text(f"drop table {table}"))
        config = Config()
        config.set_main_option("script_location", str(SCRIPT_LOCATION))
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, BASELINE)
        assert _shape(engine) == before
    finally:
        engine.dispose()


def _shape(engine: Engine) -> dict[str, object]:
    inspector = inspect(engine)
    return {
        t: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(t)],
            sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(t)),
            inspector.get_pk_constraint(t)["constrained_columns"],
            [(f["referred_table"], f["constrained_columns"]) for f in inspector.get_foreign_keys(t)],
        )
        for t in sorted(TABLES)
    }


def test_processes_opening_an_empty_database_at_once_all_succeed(url: str) -> None:
    """Four stores opened together on an empty database migrate it once; none fails."""
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            Store(url).close()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("select count(*) from alembic_version")).scalar() == 1
    finally:
        engine.dispose()


def test_opening_a_database_at_head_does_not_load_alembic(tmp_path: Path) -> None:
    """The start-up check is one query: a process opening a database already at head never imports Alembic."""
    url = f"sqlite:///{tmp_path}/state.db"
    Store(url).close()
    probe = (
        f"import sys; from crmsync.store.repository import Store; Store({url!r}).close(); "
        "print('alembic' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert result.stdout.strip() == "False"
