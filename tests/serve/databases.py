"""State databases for the serve and web tests: SQLite in a temporary folder, or PostgreSQL in a fresh
schema per test (skipped when no server runs on 127.0.0.1:5432), as tests/store/conftest.py does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from crmsync.store.intake import IntakeStore
from crmsync.store.repository import Store
from tests.store.conftest import POSTGRES, postgres_available


@contextmanager
def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty state database of `kind` (sqlite or postgres), dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path}/state.db"
        return
    if not postgres_available():
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES)
    with admin.begin() as conn:
        conn.execute(text(f"create schema {schema}"))
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"drop schema {schema} cascade"))
        admin.dispose()


@contextmanager
def intake_database(kind: str, tmp_path: Path) -> Iterator[tuple[Store, IntakeStore]]:
    """A fresh store and the intake queries over its engine."""
    with database_url(kind, tmp_path) as url:
        store = Store(url)
        try:
            yield store, IntakeStore(store.engine)
        finally:
            store.close()
