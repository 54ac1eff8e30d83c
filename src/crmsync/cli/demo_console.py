"""The end of `crmsync demo` on a terminal: the console over the demo's own state database and
sandbox, at a printed URL, until Ctrl-C. Piped output (CI, a script) skips it, so the demo ends as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

from rich.console import Console

from crmsync.app import build_console
from crmsync.sandbox.serve import serve_app
from crmsync.service.console_reads import open_console_data
from crmsync.settings import load_settings
from crmsync.web.console.build import standalone

PORT = 8090  # the console's usual port; a free one when it is taken


def offer_console(
    console: Console, env: Mapping[str, str], folder: Path, wait: Callable[[str], None] | None = None
) -> None:
    """Serve the console over the demo's data on loopback (no login: the person at this terminal) and
    wait (`wait(url)`; default: until Ctrl-C)."""
    settings = load_settings(dict(env))
    data = open_console_data(settings.database_url)
    try:
        app = standalone(build_console(settings, folder, data))
        try:
            served = serve_app(app, port=PORT)
        except OSError:
            served = serve_app(app, port=0)
        with served:
            url = f"{served.url}/ui/"
            console.print(f"\nThe console for the demo's data: {url}  (Ctrl-C to stop)", markup=False, highlight=False)
            (wait or _until_interrupted)(url)
    finally:
        data.store.close()


def _until_interrupted(_url: str) -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
