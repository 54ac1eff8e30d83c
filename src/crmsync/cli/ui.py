"""`crmsync ui`: the console alone (the same pages `crmsync serve` shows under /ui/), on the same
state database and mapping files, for teams that run only the CLI. On loopback it may run without a
login, for the person at the machine; anywhere else it needs CRMSYNC_UI_TOKEN or an SSO header.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crmsync.cli.options import Guard, MappingsOption

if TYPE_CHECKING:
    from rich.console import Console

    from crmsync.settings import Settings


def register(app: typer.Typer, guarded: Guard, out: Console) -> None:
    """Add `ui` to the app."""

    @app.command("ui")
    def ui(
        mappings: MappingsOption = None,
        host: Annotated[
            str, typer.Option(help="Address to listen on (not loopback: a login must be configured).")
        ] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 8090,
    ) -> None:
        """Serve the console (runs, companies explained, problems, the ledger, mappings) until Ctrl-C."""

        def body() -> int:
            from crmsync.cli import session

            settings = session.settings()
            return run_console(out, settings, mappings or settings.mappings, host, port)

        guarded(body)


def run_console(out: Console, settings: Settings, folder: Path, host: str, port: int) -> int:
    """Build the console and serve it with uvicorn until SIGINT or SIGTERM, then exit 0 (as serve)."""
    import uvicorn

    from crmsync.app import build_console
    from crmsync.cli.uvicorn_server import clean_server
    from crmsync.service.console_reads import open_console_data
    from crmsync.web.console.build import refuse_unsafe, standalone

    refuse_unsafe(settings, host)  # before the state database is opened
    data = open_console_data(settings.database_url)
    try:
        console = build_console(settings, folder, data, host=host)
        shown = f"[{host}]" if ":" in host else host
        login = (
            "log in with CRMSYNC_UI_TOKEN"
            if console.identity.token_login
            else (
                "SSO through the proxy" if settings.ui.user_header else f"no login: you are {settings.actor} (operator)"
            )
        )
        out.print(f"crmsync console at http://{shown}:{port}/ui/ ({login}); Ctrl-C to stop", markup=False,
                  highlight=False)  # fmt: skip
        # proxy_headers off: the peer address is what CRMSYNC_UI_TRUSTED_PROXIES is checked against.
        config = uvicorn.Config(standalone(console), host=host, port=port, proxy_headers=False, log_level="warning")
        clean_server(config).run()  # Ctrl-C or SIGTERM: a clean stop, exit 0 as serve
    finally:
        data.store.close()
    return 0
