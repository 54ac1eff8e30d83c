"""Hostile input kept small: a deadline and a cap on request bodies being read, JSON nesting,
per-key rate limits, and log lines held to one per condition per interval.

Used by the endpoints (`web/app.py`, `web/webhooks.py`) and by serve's wiring, which takes
`uvicorn_limits` for the server's connection caps and `throttle_logs` for uvicorn's and asyncio's loggers.
"""

from __future__ import annotations

import asyncio
import logging
import re
import resource
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from starlette.requests import ClientDisconnect, Request

from crmsync.web.config import WebSettings

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')  # a JSON string, escapes included
_CONDITION = re.compile(r"""condition['"]?[=:]\s*['"]?([\w:.-]+)""")  # a rendered line's condition field
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


class BodyRefused(Exception):
    """A request body that was not read: the status to answer and why (no secret)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class BodyReader:
    """Reads request bodies under a deadline, at most `max_in_flight` at once: a slow client holds
    its slot (and its socket) for `timeout` seconds at most, and the ones past the cap are answered
    503 at once, so a flood of one-byte-then-nothing bodies cannot starve a genuine webhook."""

    timeout: float
    max_in_flight: int
    in_flight: int = 0

    async def read(self, request: Request) -> bytes:
        """The whole body, or BodyRefused (503 overloaded, 408 too slow, 400 the client went away)."""
        if self.in_flight >= self.max_in_flight:
            raise BodyRefused(503, f"more than {self.max_in_flight} request bodies being received; retry")
        self.in_flight += 1
        try:
            async with asyncio.timeout(self.timeout):
                return await request.body()
        except TimeoutError:
            raise BodyRefused(408, f"request body not received within {self.timeout:g} s") from None
        except ClientDisconnect:
            raise BodyRefused(400, "the client disconnected before sending the whole body") from None
        finally:
            self.in_flight -= 1


def json_depth(body: bytes) -> int:
    """How deep arrays and objects nest in `body` (brackets inside strings do not count); linear time,
    so a body of 100,000 `[` is measured without the parser recursing into it."""
    brackets = _STRINGS.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(1 if b in b"[{" else -1 for b in brackets), default=0)


@dataclass
class RateLimit:
    """A token bucket per key: `burst` at once, refilled at `per_second`; in memory, per process."""

    per_second: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, key: str, amount: float = 1.0) -> bool:
        """Spend `amount` from `key`'s bucket; False (nothing spent) when it holds too little."""
        now = self.clock()
        tokens, then = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.per_second)
        if amount > tokens:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - amount, now)
        if len(self._buckets) > 10_000:  # forged keys must not grow memory without end
            self._buckets.pop(next(iter(self._buckets)))
        return True

    def left(self, key: str) -> float:
        """Tokens `key` has now (without spending)."""
        now = self.clock()
        tokens, then = self._buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + (now - then) * self.per_second)


class Throttle(logging.Filter):
    """Lets one record per (logger, message template) through per `interval` seconds; the next one
    that passes says how many were held back. A flood (one refusal per connection, EMFILE on every
    accept) is then a line per condition per interval, with the count, never a line per connection."""

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval = interval
        self.clock = clock
        self._last: dict[tuple[str, str], float] = {}
        self._held: dict[tuple[str, str], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        """True for the first record of its kind in an interval (with the held-back count appended)."""
        event = record.msg if isinstance(record.msg, dict) else None  # a structlog event (crmsync's loggers)
        if event is not None:
            condition = event.get("condition") or event.get("event")
        else:  # already rendered (structlog before logging is configured): its condition=… field, if any
            found = _CONDITION.search(str(record.msg))
            condition = found.group(1) if found else getattr(record, "condition", None)
        condition = condition or record.msg
        if event is not None and event.get("event") == "http.request":  # crmsync's access log (web/access.py)
            status = event.get("status")
            if not isinstance(status, int) or status < 400:  # answered requests pass; refused: a line per status
                return True
            condition = f"status {status}"
        if record.name == "uvicorn.access":  # answered requests pass; refused ones are one line per status
            status = record.args[-1] if isinstance(record.args, tuple) and record.args else 0
            if not isinstance(status, int) or status < 400:
                return True
            condition = f"status {status}"
        key = (record.name, str(condition))
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._held[key] = self._held.get(key, 0) + 1
            return False
        self._last[key] = now
        held = self._held.pop(key, 0)
        if held and event is not None:
            event["held_back"] = held  # more like this in the last interval
        elif held:
            record.msg = f"{record.msg} ({held} more like this in the last {self.interval:g} s)"
        if len(self._last) > 1000:  # templates are few; a flood of distinct ones is dropped oldest first
            self._last.pop(next(iter(self._last)))
        return True


def throttle_logs(names: Iterable[str], interval: float = 60.0) -> Throttle:
    """Give each named logger one shared, fresh Throttle (in place of one a former server left)."""
    throttle = Throttle(interval)
    for name in names:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, Throttle)]:
            logger.removeFilter(old)
        logger.addFilter(throttle)
    return throttle


THROTTLED_LOGGERS = ("crmsync.web", "crmsync.http", "uvicorn.error", "uvicorn.access", "asyncio")


def server_config(app: Any, settings: WebSettings | None, *, host: str, port: int, **extra: Any) -> Any:
    """serve's uvicorn.Config: the connection caps of `uvicorn_limits`, and the throttled loggers."""
    import uvicorn

    limits = uvicorn_limits(settings or WebSettings())
    config = uvicorn.Config(app, host=host, port=port, **limits, **extra)
    throttle_logs(THROTTLED_LOGGERS)  # after Config, which (re)configures uvicorn's loggers
    return config


def header_deadline(seconds: float) -> type[Any]:
    """uvicorn's h11 protocol with a deadline on a request's header block: a connection that has not
    finished its request line and headers `seconds` after it opened (or after its last answer) is
    closed. uvicorn has no such timeout: a client sending half a header and then nothing held its
    socket for ever (the keep-alive timer stops at the first byte)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderDeadline(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _waiting: object = None  # the request cycle in place when the deadline was set

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            between = self.cycle is None or self.cycle.response_complete
            if between and (self._deadline is None or self._waiting is not self.cycle):
                self._arm()  # the first bytes of a next request on a kept-alive connection
            super().data_received(data)

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._waiting = self.cycle
            self._deadline = self.loop.call_later(seconds, self._expired)

        def _expired(self) -> None:
            self._deadline = None
            if self.cycle is self._waiting and not self.transport.is_closing():  # no new request began
                self.transport.close()

    return HeaderDeadline


def uvicorn_limits(settings: WebSettings) -> dict[str, Any]:
    """uvicorn.Config keywords that cap connections below the open-file limit (past the cap uvicorn
    answers 503 at once), close idle keep-alive connections, and bound a request's header block.

    The soft open-file limit is first raised to the hard one, so the cap can be generous."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):  # not allowed here: keep the soft limit and cap below it
            pass
    # Leave room for the database, the outside APIs and the log files beside the client sockets.
    cap = max(16, min(settings.max_connections, soft - 64))
    return {
        "limit_concurrency": cap,
        "timeout_keep_alive": settings.keep_alive,
        "h11_max_incomplete_event_size": 64 * 1024,
        "http": header_deadline(settings.body_timeout),
    }
