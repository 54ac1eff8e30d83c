"""State databases for the serve and web tests: a fresh store and its intake queries on SQLite or
PostgreSQL (tests/databases.py makes the empty database)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from crmsync.store.intake import IntakeStore
from crmsync.store.repository import Store
from tests.databases import database_url

__all__ = ["database_url", "intake_database"]


@contextmanager
def intake_database(kind: str, tmp_path: Path) -> Iterator[tuple[Store, IntakeStore]]:
    """A fresh store and the intake queries over its engine."""
    with database_url(kind, tmp_path) as url:
        store = Store(url)
        try:
            yield store, IntakeStore(store.engine)
        finally:
            store.close()
