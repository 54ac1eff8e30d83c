"""`crmsync db upgrade` and `crmsync db current` as users run them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine
from typer.testing import CliRunner

from crmsync.cli import app
from crmsync.store.engine import describe
from crmsync.store.migrations import HEAD
from tests.store.legacy_schema import create_legacy_schema

runner = CliRunner()


def _db(path: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["db", *args], env={"CRMSYNC_DATABASE_URL": f"sqlite:///{path}"})
    return result.exit_code, result.output


def test_current_looks_without_upgrading(tmp_path: Path) -> None:
    """`db current` names the database and says it has no revision yet; it creates no table."""
    code, output = _db(tmp_path / "state.db", "current")
    assert code == 0 and str(tmp_path / "state.db") in output and "no revision" in output
    assert _db(tmp_path / "state.db", "current")[1] == output


def test_upgrade_then_current_shows_head(tmp_path: Path) -> None:
    """`db upgrade` brings an empty database to the newest revision; a second one has nothing to do."""
    code, output = _db(tmp_path / "state.db", "upgrade")
    assert code == 0 and f"upgraded to {HEAD}" in output
    assert f"already at the newest revision {HEAD}" in _db(tmp_path / "state.db", "upgrade")[1]
    assert f"revision {HEAD} (the newest)" in _db(tmp_path / "state.db", "current")[1]


def test_upgrade_stamps_a_database_made_before_migrations(tmp_path: Path) -> None:
    """`db upgrade` says a pre-migration database was stamped at 0001 and upgraded."""
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    create_legacy_schema(engine)
    engine.dispose()
    code, output = _db(tmp_path / "old.db", "upgrade")
    assert code == 0 and "made before migrations: stamped at 0001" in output


def test_a_file_that_is_not_a_database_is_one_line_naming_it(tmp_path: Path) -> None:
    """A state database that cannot be opened: exit 1 and one line naming the file, no traceback."""
    (tmp_path / "junk.db").write_text("not a database\n" * 200)
    code, output = _db(tmp_path / "junk.db", "upgrade")
    assert code == 1 and output.count("\n") == 1
    assert f"cannot open sqlite:///{tmp_path / 'junk.db'}" in output and "not a database" in output


def test_the_database_named_to_users_never_shows_a_password(tmp_path: Path) -> None:
    """A PostgreSQL URL is shown without its password; a SQLite one as the file's absolute path."""
    shown = describe("postgresql+psycopg://crmsync:hunter2@db.internal/state")
    assert "hunter2" not in shown and "db.internal/state" in shown
    assert describe("sqlite:///relative/state.db") == f"sqlite:///{Path('relative/state.db').absolute()}"
