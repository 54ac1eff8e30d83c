"""Rendering for the console: the Jinja2 environment (autoescaped, strict about undefined names),
`render()` with what every page needs (actor, flash message, nav), the 403/404 pages, and the
signed flash cookie set by an action's redirect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from crmsync.safe_text import JINJA_FILTERS, shown
from crmsync.service.console_reads import ConsoleData
from crmsync.service.context import Context
from crmsync.settings import UiSettings
from crmsync.web.console.auth import FLASH_COOKIE, Identity, Throttle
from crmsync.web.console.permissions import Actor

NAV = (("", "Overview"), ("/runs", "Runs"), ("/companies", "Companies"), ("/problems", "Problems"),
       ("/owned", "Owned overrides"), ("/mappings", "Mappings"))  # fmt: skip


def _finalize(value: object) -> object:
    """Every plain text a page prints goes through safe_text.shown (controls and bidi overrides escaped,
    which HTML escaping does not do); markup (macros, `|e`: the editor's raw text) passes as it is."""
    return shown(value) if type(value) is str else value


_env = jinja2.Environment(
    loader=jinja2.PackageLoader("crmsync.web.console", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=_finalize,
)
_env.filters.update(JINJA_FILTERS)
templates = Jinja2Templates(env=_env)


@dataclass
class Console:
    """What the views share: the reads, how to open the edges for explain and actions, identities."""

    data: ConsoleData
    workspace: Any  # () -> context manager of (Context, Mappings): the edges explain and actions need
    mappings: Any  # Path: the folder of mapping files in force
    identity: Identity
    ui: UiSettings
    links: dict[str, str] = field(default_factory=dict)  # hubspot_portal, salesforce_instance: deal links
    throttle: Throttle = field(default_factory=Throttle)


def console_of(request: Request) -> Console:
    """The console the app was made with."""
    console: Console = request.app.state.console
    return console


def actor_of(request: Request) -> Actor | None:
    """The request's actor (resolved once by the app, before routing)."""
    actor: Actor | None = request.scope.get("actor")
    return actor


def root(request: Request) -> str:
    """Where the console is mounted (`/ui`)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    """A page: `template` with `context` and what the base template needs."""
    console = console_of(request)
    flash = console.identity.sessions.read_flash(request.cookies.get(FLASH_COOKIE))
    base = {"actor": actor_of(request), "root": root(request), "nav": NAV, "flash": flash,
            "path": request.url.path[len(root(request)):] or "/", "login": console.identity.token_login}  # fmt: skip
    response = templates.TemplateResponse(request, template, {**base, **context}, status_code=status)
    if flash:
        response.delete_cookie(FLASH_COOKIE, path=root(request) or "/")
    return response


def redirect(request: Request, where: str, message: str = "") -> Response:
    """303 to `where` (inside the console), carrying a flash message."""
    response = RedirectResponse(root(request) + where, status_code=303)
    if message:
        value = console_of(request).identity.sessions.flash(message)
        response.set_cookie(FLASH_COOKIE, value, httponly=True, samesite="lax", path=root(request) or "/",
                            secure=request.url.scheme == "https")  # fmt: skip
    return response


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    """A 403/404/400 page (no exception text from inside crmsync)."""
    return render(request, "error.html", status=status, title=title, message=message)


__all__ = ["Console", "Context", "actor_of", "console_of", "error_page", "redirect", "render", "root"]
