"""Pieces every loopback emulator shares: the request log, fault rules, a token bucket.

`hubspot.py` and `schematic.py` build on these; nothing here knows either API. Times
are rendered the way both services do: RFC 3339, UTC, with a `Z`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

Clock = Callable[[], datetime]
Query = dict[str, list[str]]


def utc_now() -> datetime:
    """The default emulator clock: the real time, aware, in UTC."""
    return datetime.now(UTC)


def iso_z(moment: datetime, *, millis: bool = False) -> str:
    """`2026-11-01T10:00:00Z` (or `...00.000Z` with millis) for an aware datetime."""
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds" if millis else "seconds")
    return text.replace("+00:00", "Z")


@dataclass(frozen=True)
class RecordedRequest:
    """One request an emulator received, for assertions: what came in and what went out."""

    method: str
    path: str
    query: Query
    json: Any
    status: int

    def first(self, name: str) -> str | None:
        """The first value of query parameter `name`, or None."""
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Call:
    """A parsed request as the endpoint functions see it."""

    method: str
    path: str
    query: Query
    body: Any
    path_params: Mapping[str, str] = field(default_factory=dict)

    def first(self, name: str) -> str | None:
        """The first value of query parameter `name`, or None."""
        values = self.query.get(name)
        return values[0] if values else None

    def many(self, *names: str) -> list[str]:
        """Every value of the repeated parameters `names` (e.g. `ids` and `ids[]`)."""
        return [value for name in names for value in self.query.get(name, [])]


@dataclass
class Reply:
    """What an endpoint answers: status, a JSON body, extra headers, and a delay after commit
    (`garble`: the body is replaced by an HTML page, as a proxy in the way would answer)."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    garble: bool = False
    drop: bool = False  # start the answer, then close the connection mid-body

    def response(self) -> Response:
        """The Starlette response for this reply."""
        if self.drop:
            return DroppedResponse()
        if self.garble:
            return Response("<html>upstream reset</html>", self.status, self.headers, media_type="text/html")
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


class DroppedResponse(Response):
    """Half an answer, then the connection closes: the server did the work, the client never learns."""

    async def __call__(self, scope: Any, receive: Any, send: Callable[[Any], Awaitable[None]]) -> None:
        await send({"type": "http.response.start", "status": 201,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"data": {', "more_body": True})
        raise ConnectionResetError("sandbox: connection dropped after the write was committed")


@dataclass
class FaultRule:
    """An injected failure (or delay, or garbled answer) for the next `times` requests that match."""

    method: str  # "*" matches any method
    path_prefix: str
    times: int
    status: int = 0
    retry_after: float | None = None
    seconds: float = 0.0
    garble: bool = False
    drop: bool = False

    def matches(self, method: str, path: str) -> bool:
        """Whether this rule applies to a request; a used-up rule never matches."""
        return (
            self.times > 0
            and (self.method == "*" or self.method.upper() == method.upper())
            and path.startswith(self.path_prefix)
        )


def take_rule(rules: list[FaultRule], method: str, path: str) -> FaultRule | None:
    """Consume one use of the first matching rule; drop rules that are used up."""
    for rule in rules:
        if rule.matches(method, path):
            rule.times -= 1
            if rule.times <= 0:
                rules.remove(rule)
            return rule
    return None


class TokenBucket:
    """A per-second rate limit with a burst of max(1, rate), on the monotonic clock."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def take(self) -> float:
        """Spend a token and return 0, or return the seconds until one is available."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    @property
    def remaining(self) -> int:
        """Whole tokens left right now."""
        return math.floor(self.tokens)


def seconds_header(seconds: float) -> str:
    """A `Retry-After` value: whole seconds when integral, else the decimal (tests use 0.05)."""
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


async def read_call(request: Request) -> tuple[Call, str | None]:
    """Parse a Starlette request into a Call; the second item is a JSON error, if any."""
    raw = await request.body()
    query: Query = {}
    for key, value in parse_qsl(request.url.query, keep_blank_values=True):
        query.setdefault(key, []).append(value)
    body: Any = None
    problem = None
    if raw:
        try:
            body = json.loads(raw)
        except ValueError as exc:
            problem = f"request body is not valid JSON: {exc}"
    call = Call(request.method, request.url.path, query, body, dict(request.path_params))
    return call, problem


def one_of(value: object, allowed: Sequence[str]) -> bool:
    """Whether `value` is a string among `allowed`."""
    return isinstance(value, str) and value in allowed
