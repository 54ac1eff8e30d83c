"""Wire recording for the emulators: every request and the exact response bytes, when enabled.

`make_app` (common.py) wraps each emulator app in `RecordingMiddleware`; it records into the
state's `exchanges` list when a test sets one (None, the default, records nothing). The
fidelity suite (tests/fidelity) validates these exchanges against the vendors' OpenAPI specs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class Exchange:
    """One request as it arrived and the response as it left (headers lower-cased)."""

    method: str
    path: str
    query_string: str
    request_headers: dict[str, str]
    request_body: bytes
    status: int
    response_headers: dict[str, str]
    response_body: bytes


class RecordingMiddleware:
    """ASGI middleware appending an `Exchange` to `state.exchanges` for each HTTP request, if a list."""

    def __init__(self, app: ASGIApp, state: object) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sink = getattr(self.state, "exchanges", None)
        if scope["type"] != "http" or not isinstance(sink, list):
            await self.app(scope, receive, send)
            return
        request_body = bytearray()
        status, headers, body = 0, {}, bytearray()

        async def receive_and_keep() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                request_body.extend(message.get("body", b""))
            return message

        async def send_and_keep(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message.get("headers", [])}
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive_and_keep, send_and_keep)
        finally:
            request_headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            sink.append(
                Exchange(
                    scope["method"],
                    scope["path"],
                    scope.get("query_string", b"").decode("latin-1"),
                    request_headers,
                    bytes(request_body),
                    status,
                    headers,
                    bytes(body),
                )
            )
