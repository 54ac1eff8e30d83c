"""`crmsync owned`: list what crmsync manages (its ledger), with the last applied value and the
source deals. `register(app, guarded, out)` adds it to the main app (cli/__init__.py). Reads only.
Exit codes: 0 ok, 1 an unknown company or an unreachable service, 2 bad configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from crmsync.cli.jsonout import emit
from crmsync.cli.options import CompaniesOption, Guard, JsonLinesOption
from crmsync.safe_text import shown

if TYPE_CHECKING:
    from rich.console import Console

    from crmsync.service.owned_report import OwnedEntry


def register(app: typer.Typer, guarded: Guard, out: Console) -> None:
    """Add `owned` to the app; `guarded` turns crmsync errors into exit codes."""

    @app.command("owned")
    def owned(
        companies: CompaniesOption = None,
        as_json: JsonLinesOption = False,
    ) -> None:
        """List the overrides crmsync manages: last applied value and the deals behind each."""

        def body() -> int:
            from crmsync.app import schematic_context
            from crmsync.cli import session
            from crmsync.service.owned_report import owned_entries
            from crmsync.service.scope import resolve_scope

            with schematic_context(session.settings()) as ctx:
                entries = owned_entries(ctx, resolve_scope(ctx, companies))
            if as_json:
                emit({"owned": [e.to_json() for e in entries]})
            else:
                render_owned(out, entries)
            return 0

        guarded(body)


def render_owned(console: Console, entries: list[OwnedEntry]) -> None:
    """One line per override (company / feature = value, id), its deals on an indented line; a count."""

    def say(text: str) -> None:  # names and deal ids come from outside: shown escaped (safe_text.py)
        console.print(shown(text), markup=False, highlight=False, emoji=False)

    for e in entries:
        value = e.value.describe() if e.value else "?"
        state = "" if e.status == "active" else f" ({e.status})"
        say(f"{e.company} / {e.feature} = {value}  {e.override_id or 'not confirmed yet'}{state}")
        deals = ", ".join(f"{s} {d}" for s, d in e.deals) or "not recorded"
        say(f"    deals: {deals}")
    say(f"crmsync manages {len(entries)} override(s)." if entries else "crmsync manages no overrides.")
