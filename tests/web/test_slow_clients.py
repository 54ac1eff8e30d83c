"""Slow clients against serve's own server configuration (`web.limits.server_config`, real uvicorn):
bodies that send one byte and then nothing hold a socket for the body deadline at most, past the cap
they are answered 503 at once, and /healthz and a signed webhook keep answering. Small scale for CI."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from crmsync.metrics import SuccessTracker
from crmsync.store.intake import IntakeStore
from crmsync.web.app import make_app
from crmsync.web.limits import THROTTLED_LOGGERS, Throttle, server_config
from crmsync.web.webhooks import Ingress
from tests.serve.databases import intake_database
from tests.serve.signing import hubspot_headers
from tests.web.conftest import HUBSPOT_SECRET, PORTAL, SETTINGS

LIMITS = replace(SETTINGS, body_timeout=1.5, max_slow_bodies=10, keep_alive=1)
SLOW = 40  # four times the cap


@contextmanager
def server(tmp_path: Path) -> Iterator[tuple[str, uvicorn.Server, IntakeStore]]:
    """The app under serve's uvicorn configuration on a free loopback port, in a thread."""
    with intake_database("sqlite", tmp_path) as (_store, intake):
        app = make_app(Ingress(intake, LIMITS), SuccessTracker())
        config = server_config(app, LIMITS, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
        running = uvicorn.Server(config)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=lambda: loop.run_until_complete(running.serve()), daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not running.started and time.monotonic() < deadline:
            time.sleep(0.01)
        port = running.servers[0].sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}", running, intake
        finally:
            running.should_exit = True
            thread.join(timeout=10)
            loop.close()
            for name in THROTTLED_LOGGERS:  # the next tests' log lines are not this server's to hold back
                logger = logging.getLogger(name)
                for throttle in [f for f in logger.filters if isinstance(f, Throttle)]:
                    logger.removeFilter(throttle)


def slow_body(url: str, path: str = "/webhooks/hubspot") -> socket.socket:
    """A connection that sends its headers and one byte of a 1,000-byte body, then nothing."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.sendall(f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n[".encode())
    return sock


def held(running: uvicorn.Server) -> int:
    """Client sockets the server holds open now."""
    return len(running.server_state.connections)


def signed(url: str) -> dict[str, Any]:
    body = json.dumps([{"subscriptionType": "deal.creation", "objectId": 7, "portalId": int(PORTAL), "eventId": 7}])
    return {"content": body, "headers": hubspot_headers(HUBSPOT_SECRET, url + "/webhooks/hubspot", body.encode())}


def test_slow_bodies_hold_no_more_than_the_cap_and_healthz_answers(tmp_path: Path) -> None:
    """40 one-byte bodies: at most the cap is held, the rest get 503 at once; /healthz answers throughout."""
    with server(tmp_path) as (url, running, intake), httpx.Client(base_url=url, timeout=5) as client:
        sockets = [slow_body(url) for _ in range(SLOW)]
        try:
            time.sleep(0.5)
            started = time.monotonic()
            assert client.get("/healthz").status_code == 200
            busy = client.post("/webhooks/hubspot", **signed(url))
            assert busy.status_code == 503 and busy.headers["retry-after"]  # refused fast, retried by HubSpot
            assert time.monotonic() - started < 1.0
            during = held(running)
            assert during <= LIMITS.max_slow_bodies + 2, during  # + the client's own keep-alive connection
            time.sleep(LIMITS.body_timeout + LIMITS.keep_alive + 0.5)
            after = held(running)
            assert after <= 1, after
            answer = client.post("/webhooks/hubspot", **signed(url))
            assert answer.status_code == 200, answer.text
            assert intake.depth().events == 1  # no slow body was ever stored
        finally:
            for sock in sockets:
                sock.close()


def test_a_slow_body_is_answered_408_at_the_deadline(tmp_path: Path) -> None:
    """A body that stops arriving is answered 408 after body_timeout and its socket closed."""
    with server(tmp_path) as (url, running, _intake):
        sock = slow_body(url)
        sock.settimeout(LIMITS.body_timeout + LIMITS.keep_alive + 3)
        started = time.monotonic()
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408")
        assert LIMITS.body_timeout - 0.2 <= time.monotonic() - started < LIMITS.body_timeout + 1.0
        while answer:  # the rest of the answer, then the server's close
            answer = sock.recv(4096)
        assert held(running) == 0
        sock.close()


def test_under_the_cap_a_signed_webhook_is_stored_beside_slow_bodies(tmp_path: Path) -> None:
    """With fewer slow bodies than the cap, a genuine webhook is stored at once."""
    with server(tmp_path) as (url, _running, intake), httpx.Client(base_url=url, timeout=5) as client:
        sockets = [slow_body(url) for _ in range(LIMITS.max_slow_bodies - 2)]
        try:
            time.sleep(0.3)
            answer = client.post("/webhooks/hubspot", **signed(url))
            assert answer.status_code == 200, answer.text
            assert intake.depth().events == 1
        finally:
            for sock in sockets:
                sock.close()


def test_half_a_header_block_is_closed_at_the_deadline(tmp_path: Path) -> None:
    """Clients that send part of their request line and headers, then nothing, are closed after the
    deadline (uvicorn alone keeps them for ever); a kept-alive connection starting a second one too."""
    with server(tmp_path) as (url, running, _intake):
        host, port = url.removeprefix("http://").split(":")
        sockets = [socket.create_connection((host, int(port))) for _ in range(SLOW)]
        for sock in sockets:
            sock.sendall(b"POST /webhooks/hubspot HTTP/1.1\r\nhost: x\r\ncontent-")
        kept = socket.create_connection((host, int(port)))
        kept.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        assert kept.recv(4096).startswith(b"HTTP/1.1 200")
        kept.sendall(b"GET /healthz HTTP/1.1\r\nho")  # half of a second request on the same connection
        time.sleep(0.3)
        assert held(running) == SLOW + 1
        time.sleep(LIMITS.body_timeout + 0.5)
        assert held(running) == 0
        for sock in [*sockets, kept]:
            sock.close()


def test_clients_leaving_mid_body_log_one_line_and_no_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """20 clients that hang up halfway through their bodies: no traceback (was a 47-line ClientDisconnect
    one each), and serve's throttle lets one line through per condition (disconnected; past the cap)."""
    with server(tmp_path) as (url, running, _intake), caplog.at_level(logging.INFO):
        for _ in range(20):
            slow_body(url).close()
        deadline = time.monotonic() + 5
        while held(running) and time.monotonic() < deadline:
            time.sleep(0.05)
    mine = [r for r in caplog.records if r.name.startswith(("crmsync.web", "uvicorn", "asyncio"))]
    assert not [r for r in mine if r.exc_info or r.levelno >= logging.ERROR]
    conditions = [r.msg.get("condition") if isinstance(r.msg, dict) else r.getMessage() for r in mine]
    assert len(conditions) == len(set(conditions)), [r.getMessage() for r in mine]  # one line per condition
    assert any("disconnected" in r.getMessage() for r in mine) and len(mine) <= 2  # past the cap: 503 too
