"""The one way tests get an empty state database: SQLite in the test's temporary folder, or PostgreSQL
(127.0.0.1:5432, trust auth) in a fresh schema — or a fresh database — per test, dropped afterwards;
a PostgreSQL test is skipped when no server runs there."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@functools.cache
def postgres_available() -> bool:
    """True when the PostgreSQL server answers (asked once per test run)."""
    engine = create_engine(POSTGRES)
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means: no server here
        return False
    finally:
        engine.dispose()


@contextmanager
def postgres_schema(prefix: str = "t") -> Iterator[tuple[str, str, Engine]]:
    """A fresh schema of the test database: (URL whose search_path is it, schema name, an admin engine
    for tests that drop and remake it), dropped afterwards; skips the test without a server."""
    if not postgres_available():
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES)
    with admin.begin() as conn:
        conn.execute(text(f"create schema {schema}"))
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}", schema, admin
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"drop schema if exists {schema} cascade"))
        admin.dispose()


@contextmanager
def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty state database of `kind` (sqlite or postgres)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path}/state.db"
        return
    with postgres_schema() as (url, _schema, _admin):
        yield url


@contextmanager
def new_postgres_database(prefix: str = "crmsync_test") -> Iterator[str]:
    """A new, empty PostgreSQL database for one test (never assumed empty: made here), dropped after;
    for tests whose processes each open their own connections. Skips the test without a server."""
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
