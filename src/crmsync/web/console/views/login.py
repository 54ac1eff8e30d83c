"""Log in with a token (a POSTed form; the token never travels in a URL) and log out (a POST after
a confirm page). Wrong tokens are answered more and more slowly, per client address."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from crmsync.logs import get_logger
from crmsync.web.console.auth import SESSION_COOKIE, token_role
from crmsync.web.console.pages import actor_of, console_of, redirect, render, root
from crmsync.web.console.permissions import Actor

log = get_logger("crmsync.web.console")


async def login_form(request: Request) -> Response:
    """The login form (or, for someone already in, where they are)."""
    return render(request, "login.html", error="", next=_next(request.query_params.get("next", "")))


async def login(request: Request) -> Response:
    """Check the token; a right one sets the signed session cookie and goes on, a wrong one waits."""
    console = console_of(request)
    client = request.client.host if request.client else "?"
    delay = console.throttle.delay(client)
    if delay is None:
        log.warning("console.login_throttled", client=client, reason="too many wrong tokens")
        return render(request, "login.html", status=429, next="",
                      error="Too many wrong tokens from this address; try again in 15 minutes.")  # fmt: skip
    form = await request.form(max_files=0, max_fields=5)
    role = token_role(console.ui, str(form.get("token", "")))
    if role is None:
        console.throttle.failed(client)
        await asyncio.sleep(delay)
        log.warning("console.login_refused", client=client, reason="wrong token")
        return render(request, "login.html", status=401, error="That token is not right.",
                      next=_next(str(form.get("next", ""))))  # fmt: skip
    console.throttle.succeeded(client)
    name = "".join(c for c in str(form.get("name", "")).strip() if c.isprintable())[:64] or role.value
    actor = Actor(name, role, "token")
    log.info("console.login", actor=name, role=role.value)
    response = redirect(request, _next(str(form.get("next", ""))), f"Logged in as {name} ({role.value}).")
    sessions = console.identity.sessions
    response.set_cookie(
        SESSION_COOKIE,
        sessions.issue(actor),
        max_age=int(sessions.max_age),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",  # behind https (or a TLS proxy passing the scheme): Secure
        path=root(request) or "/",
    )
    return response


async def logout_form(request: Request) -> Response:
    """Confirm logging out."""
    return render(request, "logout.html")


async def logout(request: Request) -> Response:
    """End the session: the cookie is removed (and the login form shown)."""
    actor = actor_of(request)
    log.info("console.logout", actor=actor.id if actor else None)
    response = redirect(request, "/login", "Logged out.")
    response.delete_cookie(SESSION_COOKIE, path=root(request) or "/")
    return response


def _next(where: str) -> str:
    """Only a path inside the console (never another site) to go to after logging in."""
    return where if where.startswith("/") and not where.startswith("//") and "\\" not in where else "/"
