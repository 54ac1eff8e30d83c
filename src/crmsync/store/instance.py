"""One `crmsync serve` per SQLite database: an exclusive lock on a file next to it.

Called by the serve command before it starts. SQLite has a single writer and no `SKIP LOCKED`, so
replicas need PostgreSQL; a second process on the same SQLite file is refused with one line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import make_url

from crmsync.errors import ConfigError


@contextmanager
def single_sqlite_instance(database_url: str) -> Iterator[None]:
    """Hold `<database>.serve.lock` while the block runs (nothing to hold for other databases)."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        yield
        return
    try:
        import fcntl
    except ImportError:  # not POSIX: no advisory locks to take
        yield
        return
    path = f"{url.database}.serve.lock"
    handle = open(path, "a+")  # noqa: SIM115 - held open for the block's whole lifetime
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise ConfigError(
                f"another crmsync serve is running on {url.database}; SQLite allows one — run replicas on "
                "PostgreSQL (CRMSYNC_DATABASE_URL=postgresql+psycopg://…)"
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()
