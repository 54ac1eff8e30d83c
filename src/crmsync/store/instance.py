"""One `crmsync serve` per SQLite database, on the file it opened: an exclusive lock next to the
database's real path, state that serve can write checked at start, and the file's identity kept so the
intake can tell, before it acknowledges an event, that the file it writes is still the database.

Called by the serve command before it starts (`single_sqlite_instance`) and by `IntakeStore`
(`FileIdentity`, `refuses_writes`). SQLite has a single writer and no `SKIP LOCKED`, so replicas need PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine, make_url

from crmsync.errors import ConfigError


def _sqlite_path(database_url: str) -> Path | None:
    """The file of a SQLite URL (None: another database, in memory, or a `file:` URI)."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        return None
    return None if url.database.startswith("file:") else Path(url.database)


@contextmanager
def single_sqlite_instance(database_url: str) -> Iterator[None]:
    """Hold `<real path of the database>.serve.lock` while the block runs (nothing for other databases).

    The real path: a symlink (or a second spelling of the path) names the same lock, so it cannot start
    a second serve. State serve cannot write is one ConfigError (exit 2) naming the file, before
    anything answers a webhook it could not store."""
    path = _sqlite_path(database_url)
    try:
        import fcntl
    except ImportError:  # not POSIX: no advisory locks to take
        path = None
    if path is None:
        yield
        return
    real = Path(os.path.realpath(path))
    _check_writable(real)
    lock = Path(f"{real}.serve.lock")
    try:
        handle = open(lock, "a+")  # noqa: SIM115 - held open for the block's whole lifetime
    except OSError as exc:
        raise ConfigError(
            f"cannot open serve's lock file {lock} ({exc.strerror or exc}); serve needs to write beside the "
            "state database: fix the permissions, or set CRMSYNC_DATABASE_URL to a writable place"
        ) from exc
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise ConfigError(
                f"another crmsync serve is running on {real}; SQLite allows one — run replicas on "
                "PostgreSQL (CRMSYNC_DATABASE_URL=postgresql+psycopg://…)"
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()


def _check_writable(real: Path) -> None:
    """A ConfigError unless serve may write the database file and make its journal beside it."""
    folder = real.parent
    if not folder.is_dir():
        raise ConfigError(
            f"the state database's folder {folder} does not exist; create it, or set CRMSYNC_DATABASE_URL"
        )
    if not os.access(folder, os.W_OK | os.X_OK) or (real.exists() and not os.access(real, os.W_OK)):
        raise ConfigError(
            f"the state database {real} is read-only to crmsync; serve must write it (every event is stored "
            "before it is acknowledged): fix the permissions, or set CRMSYNC_DATABASE_URL to a writable place"
        )


@dataclass(frozen=True)
class FileIdentity:
    """The SQLite file an engine opened, as (device, inode): a deleted or replaced file no longer
    matches, though SQLite's open descriptor keeps writing into the unlinked one."""

    path: Path
    device: int
    inode: int

    @classmethod
    def of(cls, engine: Engine) -> FileIdentity | None:
        """The identity of `engine`'s SQLite file now (None: not a SQLite file, or not made yet)."""
        if engine.dialect.name != "sqlite":
            return None
        path = _sqlite_path(engine.url.render_as_string(hide_password=False))
        if path is None:
            return None
        try:
            found = os.stat(path)
        except OSError:
            return None
        return cls(path.absolute(), found.st_dev, found.st_ino)

    def problem(self) -> str | None:
        """Why the file at `path` is no longer the database opened (None: it still is, and writable)."""
        try:
            found = os.stat(self.path)
        except OSError as exc:
            return f"{self.path} is gone ({exc.strerror or exc}) since it was opened; restart serve on a database"
        if (found.st_dev, found.st_ino) != (self.device, self.inode):
            return f"{self.path} was replaced by another file since it was opened; restart serve"
        if not os.access(self.path, os.W_OK):
            return f"{self.path} became read-only since it was opened; make it writable again"
        return None


def refuses_writes(conn: Connection) -> str | None:
    """Why the database behind `conn` takes no writes now (None: it does). PostgreSQL: a standby, or
    `default_transaction_read_only`; SQLite's file is checked by `FileIdentity` (here: it answers)."""
    if conn.dialect.name != "postgresql":
        conn.execute(text("select 1"))
        return None
    if conn.execute(text("select current_setting('transaction_read_only')")).scalar_one() == "on":
        return "is read-only: no event can be stored"
    return None
