"""The console's outer layer (pure ASGI middleware): refuse cross-site state-changing requests and
add the security headers to every answer.

Cross-site check, after Datasette's `csrf.py` (reimplemented): safe methods pass; otherwise a
browser's `Sec-Fetch-Site` must be `same-origin` or `none`, or without it its `Origin` must be this
console's own; a request with neither header is not a browser's and passes. The session cookie's
SameSite=Lax is the second layer.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
]
REFUSED = (
    b"<!doctype html><html lang=en><title>Refused</title><h1>Refused: a cross-site request</h1>"
    b"<p>This form was sent from another site. Open the console and submit it from there.</p></html>"
)


def cross_site(scope: Scope) -> bool:
    """Whether a state-changing request came from another site (see the module docstring)."""
    if scope["method"] in SAFE:
        return False
    headers = Headers(scope=scope)
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is None:
        return False
    host = headers.get("host", "")
    return origin != f"{scope.get('scheme', 'http')}://{host}"


class SecurityLayer:
    """Refuses cross-site POSTs (403) and sets CSP, X-Frame-Options, Referrer-Policy, nosniff, and
    `Cache-Control: no-store` on everything but the static files."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = "/static/" in scope.get("path", "")
        if cross_site(scope):
            await send({"type": "http.response.start", "status": 403,
                        "headers": [(b"content-type", b"text/html; charset=utf-8"), *HEADERS,
                                    (b"cache-control", b"no-store")]})  # fmt: skip
            await send({"type": "http.response.body", "body": REFUSED})
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    *HEADERS,
                    (b"cache-control", b"max-age=3600" if static else b"no-store"),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)
