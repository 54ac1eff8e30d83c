"""Alembic's environment for crmsync's state database.

Runs the migrations in versions/ over the connection `crmsync.store.schema` hands in
(`config.attributes["connection"]`), or, when a developer runs the `alembic` command, over the
database given with `-x url=…` (see versions/README.md). Batch mode, so ALTERs work on SQLite.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine
from sqlmodel import SQLModel

import crmsync.store.tables  # noqa: F401 - puts the tables on SQLModel.metadata, which autogenerate compares


def _migrate(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def _run() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("name the database: alembic -c src/crmsync/store/migrations/alembic.ini -x url=… COMMAND")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            _migrate(conn)
    finally:
        engine.dispose()


_run()
