"""Putting a console together from settings: its reads, identities, the edges explain and actions
open per request (`workspace`, given by the composition root, crmsync.app), and deal links; and the
apps that serve it (`crmsync ui` alone, or `crmsync serve` mounting it at `/ui`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route

from crmsync.errors import ConfigError
from crmsync.mapping.rules import Mappings
from crmsync.service.console_reads import ConsoleData
from crmsync.service.context import Context
from crmsync.settings import Settings
from crmsync.web.console import make_console
from crmsync.web.console.auth import Identity, Sessions, signing_keys
from crmsync.web.console.pages import Console

LOOPBACK = ("127.0.0.1", "::1", "localhost")
Workspace = Callable[[], AbstractContextManager[tuple[Context, Mappings]]]


def assemble_console(
    settings: Settings, folder: Path, data: ConsoleData, workspace: Workspace, *, host: str = "127.0.0.1"
) -> Console:
    """A console over `data`, reading mappings from `folder`. Without a login configured it runs only on
    loopback, for the person at the machine (as an operator named by CRMSYNC_ACTOR or the OS user)."""
    refuse_unsafe(settings, host)
    ui = settings.ui
    sessions = Sessions(signing_keys(ui), ui.session_hours * 3600)
    identity = Identity(ui, sessions, local_actor=None if ui.enabled else settings.actor)
    links = {
        "hubspot_portal": settings.web.hubspot_portal_id or "",
        "salesforce_instance": settings.salesforce.instance_url or "",
    }
    return Console(data, workspace, folder, identity, ui, links)


def refuse_unsafe(settings: Settings, host: str) -> None:
    """ConfigError (exit 2) for a console that would let anyone in: open off loopback, a user header
    believed from anywhere, or proxy addresses that are not addresses."""
    ui = settings.ui
    if not ui.enabled and host not in LOOPBACK:
        raise ConfigError(
            f"the console would be open to anyone on {host}: set CRMSYNC_UI_TOKEN (a login form) or "
            "CRMSYNC_UI_USER_HEADER with CRMSYNC_UI_TRUSTED_PROXIES (SSO), or serve it on 127.0.0.1"
        )
    if ui.user_header and not ui.trusted_proxies:
        raise ConfigError("CRMSYNC_UI_USER_HEADER is set but CRMSYNC_UI_TRUSTED_PROXIES is not: name the proxy's "
                          "addresses, or anyone could claim any user with that header")  # fmt: skip
    for proxy in ui.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError as exc:
            raise ConfigError(
                f"CRMSYNC_UI_TRUSTED_PROXIES: {exc}; give addresses or networks, comma-separated"
            ) from exc


def standalone(console: Console) -> Starlette:
    """`crmsync ui`'s app: the console at `/ui`, and `/` sending there."""
    return Starlette(routes=[Route("/", _to_console), Mount("/ui", make_console(console))])


def mount(console: Console) -> list[Route | Mount]:
    """The routes `crmsync serve` adds for the console."""
    return [Route("/ui", _to_console), Mount("/ui", make_console(console))]


async def _to_console(_request: Request) -> Response:
    return RedirectResponse("/ui/", status_code=307)


Opener = Callable[[], AbstractContextManager[tuple[Context, Mappings]]]
