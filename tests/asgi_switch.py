"""`Switch`: one loopback server per test module, a fresh emulator state behind it per test."""

from __future__ import annotations

from typing import Any


class Switch:
    """An ASGI app forwarding to `app`, which a fixture replaces per test (built once per state)."""

    def __init__(self, app: Any = None) -> None:
        self.app: Any = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
