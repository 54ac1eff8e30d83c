"""The `store` fixture of the store tests: a fresh store on SQLite, and on PostgreSQL when a server
runs on 127.0.0.1:5432 (each test in its own schema); skipped there otherwise."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from crmsync.store.repository import Store

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@functools.cache
def postgres_available() -> bool:
    engine = create_engine(POSTGRES)
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means: no server here
        return False
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store on each backend (PostgreSQL in its own schema)."""
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path}/state.db")
        yield s
        s.close()
        return
    if not postgres_available():
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES)
    with admin.begin() as conn:
        conn.execute(text(f"create schema {schema}"))
    s = Store(f"{POSTGRES}?options=-csearch_path%3D{schema}")
    yield s
    s.close()
    with admin.begin() as conn:
        conn.execute(text(f"drop schema {schema} cascade"))
    admin.dispose()


@contextmanager
def new_postgres_database(prefix: str = "crmsync_test") -> Iterator[str]:
    """A new, empty PostgreSQL database for one test (never assumed empty: made here), dropped after;
    skips the test when no server runs on 127.0.0.1:5432."""
    if not postgres_available():
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"create database {name}"))
    try:
        yield POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"drop database if exists {name} with (force)"))
        admin.dispose()
