"""The access log of `crmsync serve`: one `http.request` event per request (method, path, status,
duration_ms), through the same formatter as every other line, replacing uvicorn's own access log
(which wrote its format to stdout).

Level: debug for a 2xx/3xx, info for anything else; the probe paths (/healthz, /readyz, /metrics),
hit every few seconds by orchestrators and scrapers, are always debug.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from crmsync.logs import get_logger

PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
log = get_logger("crmsync.http")

Scope = dict[str, Any]
Message = dict[str, Any]


def level_of(path: str, status: int) -> int:
    """The log level of a request: info only for a non-2xx/3xx answer off the probe paths."""
    return logging.INFO if status >= 400 and path not in PROBES else logging.DEBUG


class AccessLog:
    """ASGI middleware logging each HTTP request as `http.request` when its answer has been sent."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = 500  # the app raised before answering: uvicorn answers 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message.get("type") == "http.response.start":
                status = int(message.get("status", 500))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            path = str(scope.get("path", ""))
            ms = round((time.monotonic() - started) * 1000, 1)
            log.log(level_of(path, status), "http.request", method=scope.get("method"), path=path,
                    status=status, duration_ms=ms)  # fmt: skip
