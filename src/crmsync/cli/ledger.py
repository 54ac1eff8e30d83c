"""`crmsync ledger rebuild`: take ownership back from the markers on crmsync's overrides, for a lost
or new state database. Zero Schematic writes; service/ledger.py does the work.

`register(app, guarded, out)` adds the `ledger` group to the main typer app (cli/__init__.py).
Exit codes: 0 ok (also when nothing needed rebuilding), 1 Schematic or the database failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from crmsync.cli.jsonout import emit
from crmsync.cli.options import Guard, JsonLinesOption

if TYPE_CHECKING:
    from rich.console import Console

    from crmsync.service.ledger import Rebuilt


def register(app: typer.Typer, guarded: Guard, out: Console) -> None:
    """Add `ledger rebuild` to the app; `guarded` turns crmsync errors into exit codes."""
    ledger = typer.Typer(
        no_args_is_help=True, rich_markup_mode=None, help="crmsync's ownership ledger (in the state database)."
    )
    app.add_typer(ledger, name="ledger")

    @ledger.command("rebuild")
    def rebuild_ledger(
        as_json: JsonLinesOption = False,
    ) -> None:
        """Re-create ownership from the `\\[crmsync:<token>]` marker in each override's note (zero API writes):
        every marked override the ledger does not know becomes owned again; unmarked ones stay unowned."""

        def body() -> int:
            from crmsync.app import schematic_context
            from crmsync.cli import session
            from crmsync.service.ledger import rebuild

            with schematic_context(session.settings()) as ctx:
                done = rebuild(ctx)
            if as_json:
                emit(rebuilt_json(done))
            else:
                render_rebuilt(out, done)
            return 0

        guarded(body)


def rebuilt_json(done: Rebuilt) -> dict[str, Any]:
    """`crmsync ledger rebuild --json`: the restored rows, and the overrides left as they were."""
    return {
        "database": done.database,
        "restored": [
            {
                "override_id": m.override_id,
                "company_id": m.company_id,
                "feature_id": m.feature_id,
                "token": m.token,
                "sources": list(sources),
            }
            for m, sources in done.restored
        ],
        "already_known": [m.override_id for m in done.known],
        "duplicates": [m.override_id for m in done.duplicates],
        "unmarked": done.unmarked,
    }


def render_rebuilt(console: Console, done: Rebuilt) -> None:
    """One line per restored override, then the counts."""
    for m, sources in done.restored:
        console.print(
            f"restored {m.override_id} ({m.company_id} / {m.feature_id}) token {m.token}"
            + (f" from {', '.join(sources)}" if sources else ""),
            markup=False,
        )
    for m in done.duplicates:
        console.print(
            f"left unowned {m.override_id} ({m.company_id} / {m.feature_id}): a second marked override for a pair "
            "crmsync already owns (delete one by hand)",
            markup=False,
        )
    console.print(
        f"Ledger at {done.database}: {len(done.restored)} override(s) restored from crmsync's markers, "
        f"{len(done.known)} already in it, {done.unmarked} without the marker left unowned. "
        "Nothing was written to Schematic; review with crmsync plan.",
        markup=False,
    )
