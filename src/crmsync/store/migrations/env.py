"""Alembic's environment for crmsync's state database.

Runs the migrations in versions/ over the connection `crmsync.store.schema` hands in
(`config.attributes["connection"]`), or, when a developer runs the `alembic` command, over the
database given with `-x url=…` (see versions/README.md). Batch mode, so ALTERs work on SQLite.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection, create_engine
from sqlmodel import SQLModel
from sqlmodel.sql import sqltypes

import crmsync.store.metadata  # noqa: F401 - puts every table on SQLModel.metadata, which autogenerate compares


def _render_item(kind: str, obj: Any, _autogen: Any) -> str | Literal[False]:
    """Autogenerate writes SQLModel's column types as the plain SQLAlchemy types they store as (a
    migration never imports sqlmodel: its types may change, a shipped migration may not)."""
    if kind == "type" and isinstance(obj, sqltypes.AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    if kind == "type" and type(obj).__name__ == "UTCDateTime":  # sqlmodel's aware datetime
        return "sa.DateTime(timezone=True)"
    return False


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True, render_item=_render_item
    )
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
