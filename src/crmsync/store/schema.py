"""The state database's schema version: upgrade to the newest migration, or say where it stands.

Called by `Store` on every open and by `crmsync db`. A database already at `HEAD` costs one query
and never imports Alembic; otherwise one process at a time (a PostgreSQL advisory lock, SQLite's
`BEGIN IMMEDIATE`) stamps a database made before migrations at the baseline and upgrades it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from crmsync.store.migrations import BASELINE, HEAD, SCRIPT_LOCATION

VERSION_TABLE = "alembic_version"
LEGACY_TABLE = "owned_overrides"  # present in every database crmsync ever made
LOCK_KEY = 0x63726D73796E63  # "crmsync": the PostgreSQL advisory lock held while migrating


@dataclass(frozen=True)
class Upgrade:
    """What an upgrade did: the revision before (None: empty, or made before migrations) and after."""

    before: str | None
    after: str
    stamped: bool = False  # a database made before migrations was stamped at the baseline first

    @property
    def changed(self) -> bool:
        """True when a migration ran or the database was stamped."""
        return self.stamped or self.before != self.after


def current(engine: Engine) -> str | None:
    """The database's revision: None for an empty database or one made before migrations."""
    with engine.connect() as conn:
        return _revision(conn) if inspect(conn).has_table(VERSION_TABLE) else None


def is_legacy(engine: Engine) -> bool:
    """True for a database crmsync made before it had migrations (tables, no version)."""
    with engine.connect() as conn:
        names = set(inspect(conn).get_table_names())
    return LEGACY_TABLE in names and VERSION_TABLE not in names


def upgrade(engine: Engine) -> Upgrade:
    """Bring the database to HEAD (cheap when it is there already); SQLAlchemyError on failure."""
    before = _quick_revision(engine)
    if before == HEAD:
        return Upgrade(before, HEAD)
    with _exclusive(engine) as conn:
        names = set(inspect(conn).get_table_names())
        before = _revision(conn) if VERSION_TABLE in names else None
        if before == HEAD:  # another process upgraded it while this one waited
            return Upgrade(before, HEAD)
        stamped = before is None and LEGACY_TABLE in names
        _alembic(conn, stamped)
    return Upgrade(before, HEAD, stamped)


def _alembic(conn: Connection, stamp_first: bool) -> None:
    from alembic import command  # imported only when there is something to do: it is slow to import
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["connection"] = conn
    if stamp_first:
        command.stamp(config, BASELINE)
    command.upgrade(config, "head")


@contextmanager
def _exclusive(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction no other crmsync process migrates in at the same time."""
    # On SQLite every transaction of a writable engine begins with BEGIN IMMEDIATE (store/engine.py):
    # it holds the write lock from its start.
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("select pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        yield conn


def _quick_revision(engine: Engine) -> str | None:
    """The revision by one query, None when that fails (no version table yet)."""
    try:
        with engine.connect() as conn:
            return _revision(conn)
    except SQLAlchemyError:
        return None


def _revision(conn: Connection) -> str | None:
    row = conn.execute(text(f"select version_num from {VERSION_TABLE}")).first()
    return str(row[0]) if row else None
