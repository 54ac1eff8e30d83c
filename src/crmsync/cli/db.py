"""`crmsync db upgrade` and `crmsync db current`: the state database's schema version.

`register(app, guarded, out)` adds the `db` group to the main typer app (cli/__init__.py). crmsync
upgrades the database whenever it opens it; `db upgrade` does it on purpose (e.g. a deploy step
before the new version starts) and `db current` only looks. Exit codes: 0 ok, 1 the database failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from crmsync.cli.options import Guard

if TYPE_CHECKING:  # the state store (sqlmodel) is imported when a command runs: `--help` starts fast
    from rich.console import Console

    from crmsync.store.repository import Store


def database_line(store: Store) -> str:
    """The state database in use, password redacted (`plan` and `status` print it)."""
    readonly = " (read-only: this run is not recorded)" if store.readonly else ""
    return f"State database: {store.name}{readonly}"


def register(app: typer.Typer, guarded: Guard, out: Console) -> None:
    """Add `db upgrade` and `db current` to the app; `guarded` turns crmsync errors into exit codes."""
    db = typer.Typer(
        no_args_is_help=True,
        rich_markup_mode=None,
        help="The state database's schema: upgrade it, or show its version.",
    )
    app.add_typer(db, name="db")

    @db.command("upgrade")
    def upgrade() -> None:
        """Upgrade the state database to the newest schema (crmsync also does this whenever it opens it)."""

        def body() -> int:
            from crmsync.cli import session
            from crmsync.store.migrations import HEAD
            from crmsync.store.repository import Store

            store = Store(session.settings().database_url, migrate=False)
            try:
                done = store.migrate()
            finally:
                store.close()
            if not done.changed:
                out.print(f"{store.name}: already at the newest revision {HEAD}.", markup=False)
                return 0
            was = "empty" if done.before is None and not done.stamped else f"at {done.before}"
            if done.stamped:
                was = "made before migrations: stamped at 0001"
            out.print(f"{store.name}: was {was}; upgraded to {done.after}.", markup=False)
            return 0

        guarded(body)

    @db.command("current")
    def current() -> None:
        """Show the state database in use and its schema revision, without changing anything."""

        def body() -> int:
            from crmsync.cli import session
            from crmsync.store.migrations import HEAD
            from crmsync.store.repository import Store

            store = Store(session.settings().database_url, migrate=False)
            try:
                revision = store.revision()
            finally:
                store.close()
            if revision == HEAD:
                state = f"revision {revision} (the newest)"
            elif revision is None:
                state = f"no revision (empty, or made before migrations); crmsync db upgrade brings it to {HEAD}"
            else:
                state = f"revision {revision}; the newest is {HEAD}: run crmsync db upgrade"
            out.print(f"{store.name}{' (read-only)' if store.readonly else ''}: {state}", markup=False)
            return 0

        guarded(body)
