"""Opening the state database: the engine, read-only when crmsync may not write it, and its name.

Called by `Store` and `crmsync db`. A SQLite file (or its folder) crmsync may not write is opened
read-only (`mode=ro`, or `immutable=1` when not even SQLite's shared-memory file can be made), so
`status` and `plan` still read it; writers then fail naming it. `begin` is the one transaction of the
Core query classes (intake, snapshot): a database failure leaves it as ServiceUnavailable.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import create_engine

from crmsync.errors import ServiceUnavailable
from crmsync.redaction import redact_url

SERVICE = "state database"
SETTING = "CRMSYNC_DATABASE_URL"


@dataclass(frozen=True)
class Opened:
    """An engine and how it was opened."""

    engine: Engine
    readonly: bool
    name: str  # the URL without its password; for SQLite, the file's absolute path


def redact(url: str) -> str:
    """The database URL without its user info or any secret query value (`?password=…`)."""
    return redact_url(url)


@contextmanager
def begin(engine: Engine, url: str) -> Iterator[Connection]:
    """One transaction on `engine` (committed when the block ends); a database failure becomes
    ServiceUnavailable naming the redacted `url` and the driver's first line, never the password."""
    try:
        with engine.begin() as conn:
            yield conn
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", "") or type(exc).__name__).strip().splitlines()[:1]
        raise ServiceUnavailable(SERVICE, f"{redact(url)}: {''.join(reason)[:200]}", setting=SETTING) from exc


def dialect_insert(engine: Engine, table: Any) -> Any:
    """An INSERT with the engine's dialect, so `on_conflict_do_*` is available (PostgreSQL or SQLite)."""
    module = postgresql if engine.dialect.name == "postgresql" else sqlite
    return module.insert(table)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None: not SQLite, in memory, or already a URI)."""
    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - not a URL at all: create_engine says so
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    if parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


def describe(url: str) -> str:
    """The database as a person should see it: a SQLite file's absolute path, else the redacted URL."""
    path = sqlite_file(url)
    return f"sqlite:///{path.absolute()}" if path is not None else redact(url)


def writable(path: Path) -> bool:
    """True when crmsync may write the SQLite file and make its journal beside it."""
    folder = path.absolute().parent
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    return not path.exists() or os.access(path, os.W_OK)


def open_engine(url: str, *, readonly: bool = False) -> Opened:
    """An engine on `url`; read-only when asked or when the SQLite file cannot be written."""
    path = sqlite_file(url)
    if path is None:  # a server, or SQLite in memory or by URI (as given)
        _check_backend(url)
        args = {"check_same_thread": False} if url.startswith("sqlite") else {}
        return Opened(create_engine(url, connect_args=args), readonly, redact(url))
    name = f"sqlite:///{path.absolute()}"
    if not readonly and writable(path):
        # timeout: how long a writer waits for another process's write to end (SQLite's busy timeout)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return Opened(engine, False, name)
    if not path.is_file():
        folder = path.absolute().parent
        why = "does not exist" if not folder.is_dir() else "may not be written by crmsync"
        raise FileNotFoundError(f"no database there, and its folder {folder} {why}")
    engine = _readonly_engine(path, "mode=ro")
    try:
        with engine.connect() as conn:
            conn.execute(text("select count(*) from sqlite_master"))
    except SQLAlchemyError:  # a WAL database in a folder where SQLite cannot make its -shm file
        engine.dispose()
        engine = _readonly_engine(path, "immutable=1")
    return Opened(engine, True, name)


SUPPORTED = "sqlite:///FILE or postgresql://USER@HOST/DB (psycopg)"


def _check_backend(url: str) -> None:
    """A one-line ValueError for a database crmsync does not support, or whose driver is missing."""
    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - not a URL at all: create_engine says so
        return
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"{backend} is not a supported state database; crmsync supports {SUPPORTED}")
    try:
        parsed.get_dialect().import_dbapi()
    except ImportError as exc:
        driver = parsed.get_driver_name()
        raise ValueError(
            f"the {driver} driver for {backend} is not installed (pip install {exc.name or driver}); "
            f"crmsync supports {SUPPORTED}"
        ) from exc


def _readonly_engine(path: Path, mode: str) -> Engine:
    uri = f"file:{quote(str(path.absolute()))}?{mode}"
    return create_engine(f"sqlite:///{uri}&uri=true", connect_args={"check_same_thread": False})


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """WAL with NORMAL sync: every commit survives a crash of crmsync (what the ledger's
    record-before-write needs) at a fraction of the cost of a full fsync per commit."""
    connection.isolation_level = None  # the driver begins no transaction itself: `_sqlite_begin_immediate` does
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    """Every SQLite write-capable transaction takes the write lock at its start: one that reads and
    then writes would otherwise fail at once with SQLITE_BUSY when another process wrote in between,
    instead of waiting its turn (https://www.sqlite.org/wal.html). Several crmsync processes share
    one SQLite file this way; a read-only engine keeps SQLite's plain deferred transactions."""
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def begins_immediately(engine: Engine) -> bool:
    """True for a SQLite engine of ours whose transactions already begin with BEGIN IMMEDIATE."""
    return event.contains(engine, "begin", _sqlite_begin_immediate)
