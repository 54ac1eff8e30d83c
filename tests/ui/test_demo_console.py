"""`crmsync demo` on a terminal ends by serving the console over the demo's data at a printed URL."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
from rich.console import Console

from crmsync.cli.demo_console import offer_console
from tests.ui.conftest import World


def test_the_demo_offers_the_console_for_its_data(world: World) -> None:
    """The URL printed answers with the demo's runs (by the local person), without a login."""
    out = io.StringIO()
    seen: list[str] = []

    def look(url: str) -> None:
        page = httpx.get(f"{url}runs", timeout=30)
        assert page.status_code == 200
        seen.append(page.text)

    offer_console(Console(file=out, width=200), world.env, Path(world.env["CRMSYNC_MAPPINGS"]), wait=look)
    assert "/ui/" in out.getvalue() and "Ctrl-C" in out.getvalue()
    assert ">alice<" in seen[0] and "Initiated by" in seen[0]
