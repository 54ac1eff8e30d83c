"""Serve an ASGI app on a loopback port in a background thread (optionally over TLS).

Used by the sandbox runner for every emulator, by `crmsync demo` and by the tests.
Port 0 picks a free port; `ServedApp.url` says which.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import uvicorn


@dataclass
class ServedApp:
    """A running loopback server; `stop()` (or leaving the `with` block) shuts it down."""

    url: str
    port: int
    _server: uvicorn.Server
    _thread: threading.Thread
    _loop: asyncio.AbstractEventLoop

    def stop(self) -> None:
        """Drop every open connection (a client may keep one alive), exit, and wait for the thread."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._abort_connections)
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def _abort_connections(self) -> None:
        # A TLS connection the client never closes would otherwise outlive the loop (and
        # surface later as an unclosed-transport ResourceWarning).
        for connection in list(self._server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()

    def __enter__(self) -> ServedApp:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve_app(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    hostname: str = "127.0.0.1",
    lifespan: bool = False,
) -> ServedApp:
    """Start `app` on host:port in a daemon thread and return once it accepts connections; with
    `lifespan`, the app's lifespan runs too (crmsync's service starts its worker and jobs in it, and
    stops them when the server stops)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit TCP_NODELAY: without it a response's headers and body,
    # written separately, wait ~40 ms for the client's delayed ACK on every request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:  # name the port: the bare errno does not say which of the emulators' ports is taken
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on" if lifespan else "off",
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        finally:
            # A connection a client opened as the server was stopping (after `stop` aborted the open
            # ones) would outlive the loop and surface later as an unclosed-transport ResourceWarning.
            for connection in list(server.server_state.connections):
                transport = getattr(connection, "transport", None)
                if transport is not None:
                    transport.abort()
            loop.run_until_complete(asyncio.sleep(0))  # let the aborts' callbacks run
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=run, name=f"sandbox:{bound_port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"sandbox server on port {bound_port} did not start")
        time.sleep(0.01)
    scheme = "https" if ssl_certfile else "http"
    return ServedApp(
        url=f"{scheme}://{hostname}:{bound_port}", port=bound_port, _server=server, _thread=thread, _loop=loop
    )
