"""The `store` fixture of the store tests: a fresh store on SQLite, and on PostgreSQL when a server
runs on 127.0.0.1:5432 (each test in its own schema, tests/databases.py); skipped there otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crmsync.store.repository import Store
from tests.databases import POSTGRES, database_url, new_postgres_database, postgres_available

__all__ = ["POSTGRES", "new_postgres_database", "postgres_available"]  # imported from here by older tests


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store on each backend (PostgreSQL in its own schema)."""
    with database_url(request.param, tmp_path) as url:
        s = Store(url)
        try:
            yield s
        finally:
            s.close()
