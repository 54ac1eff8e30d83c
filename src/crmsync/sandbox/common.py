"""Pieces every loopback emulator shares: the request log, fault rules, a rate limit, the app.

`hubspot.py` and `schematic.py` build on these (`make_app` serves either state at its routes);
nothing here knows either API. Times are rendered the way both services do: RFC 3339, UTC,
with a `Z`, and read the way both accept them: ISO 8601, naive meaning UTC (`parse_utc`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crmsync.sandbox.recording import RecordingMiddleware

Clock = Callable[[], datetime]
Query = dict[str, list[str]]


def utc_now() -> datetime:
    """The default emulator clock: the real time, aware, in UTC."""
    return datetime.now(UTC)


def iso_z(moment: datetime, *, millis: bool = False) -> str:
    """`2026-11-01T10:00:00Z` (or `...00.000Z` with millis) for an aware datetime."""
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds" if millis else "seconds")
    return text.replace("+00:00", "Z")


def parse_utc(value: str | datetime) -> datetime:
    """An aware UTC datetime from ISO 8601 text (`Z`, offsets, fractions, a bare date) or a
    datetime; naive means UTC. Raises ValueError for text that is not ISO 8601."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


class _HasQuery:
    """`first()` for the request types below, which all carry a parsed `query`."""

    query: Query

    def first(self, name: str) -> str | None:
        """The first value of query parameter `name`, or None."""
        values = self.query.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class RecordedRequest(_HasQuery):
    """One request an emulator received, for assertions: what came in and what went out."""

    method: str
    path: str
    query: Query
    json: Any
    status: int
    # when it arrived (monotonic): the latency benchmark tells calls made side by side from sequential ones
    at: float = field(default_factory=time.monotonic, compare=False)


@dataclass
class Call(_HasQuery):
    """A parsed request as the endpoint functions see it."""

    method: str
    path: str
    query: Query
    body: Any
    path_params: Mapping[str, str] = field(default_factory=dict)

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
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
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


def fault_reply(rule: FaultRule, error: Callable[[int], Reply], rate_limited: Callable[[float | None], Reply]) -> Reply:
    """The reply to an injected fault, in a service's words: its 429 body (`rate_limited`, given
    the rule's Retry-After) or its error body for `rule.status` plus any Retry-After."""
    if rule.status == 429:
        return rate_limited(rule.retry_after)
    reply = error(rule.status)
    if rule.retry_after is not None:
        reply.headers["Retry-After"] = seconds_header(rule.retry_after)
    return reply


class TokenBucket:
    """A per-second rate limit with a burst (default max(1, rate)), on the monotonic clock."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.capacity = max(1.0, burst if burst is not None else rate)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def take(self) -> float:
        """Spend a token and return 0, or return the seconds until one is available."""
        self._refill()
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def remaining(self) -> int:
        """Whole tokens left now."""
        self._refill()
        return int(self.tokens)

    def reset(self) -> float:
        """Seconds until the bucket is full again."""
        self._refill()
        return (self.capacity - self.tokens) / self.rate

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now


class RateLimit:
    """A token bucket that follows a settable rate: None is unlimited, a new rate a new bucket."""

    def __init__(self) -> None:
        self._bucket: TokenBucket | None = None

    def take(self, rate: float | None) -> float:
        """Spend a token at `rate` per second and return 0, or the seconds until one is available."""
        if rate is None:
            return 0.0
        if self._bucket is None or self._bucket.rate != rate:
            self._bucket = TokenBucket(rate)
        return self._bucket.take()


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


class EmulatorState(Protocol):
    """What `make_app` needs of a state: its lock, its request log and its guard."""

    @property
    def lock(self) -> AbstractContextManager[Any]: ...

    @property
    def requests(self) -> list[RecordedRequest]: ...

    def guard(self, call: Call, credential: str | None) -> Reply | None:
        """Injected faults, auth, rate limits: a reply that ends the request, or None to proceed."""


S = TypeVar("S", bound=EmulatorState)


def make_app(
    state: S,
    routes: Iterable[tuple[str, str, Callable[[S, Call], Reply]]],
    *,
    credential_header: str,
    error: Callable[[int, str], Reply],
    bad_json: str = "{}",
    after_commit: Callable[[Call], FaultRule | None] | None = None,
    latency: Callable[[], float] | None = None,
    decorate: Callable[[Call, Reply], None] | None = None,
) -> Starlette:
    """A Starlette app serving `state` at `routes` (method, path, handler).

    Each request is parsed, passed through `state.guard` (given the `credential_header`), then
    to its handler under the lock; a body that is not JSON answers `error(400, bad_json)` (with
    `{}` the parser's message), a handler that raises `error(500, …)`. `after_commit` may then
    delay, garble or drop the answer; `decorate` may add headers to a performed request's answer;
    `latency()` seconds pass before every answer (a slow network; 0 by default). Every request is
    logged with the status it got; unserved paths and methods answer `error(404 or 405, …)`;
    `state.exchanges` records the wire (recording.py)."""

    def endpoint(handler: Callable[[S, Call], Reply]) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            call, problem = await read_call(request)
            reply = state.guard(call, request.headers.get(credential_header))
            if reply is None and problem is not None:
                reply = error(400, bad_json.format(problem))
            if reply is None:
                try:
                    with state.lock:
                        reply = handler(state, call)
                except Exception as exc:  # noqa: BLE001 - answer like a server (500), not drop the connection
                    reply = error(500, f"internal error in the sandbox: {exc!r}")
                if decorate is not None:
                    decorate(call, reply)
                after = after_commit(call) if after_commit is not None else None
                if after is not None:
                    reply.delay, reply.garble, reply.drop = after.seconds, after.garble, after.drop
            state.requests.append(RecordedRequest(call.method, call.path, call.query, call.body, reply.status))
            delay = reply.delay + (latency() if latency is not None else 0.0)
            if delay:
                await asyncio.sleep(delay)
            return reply.response()

        return serve

    async def unserved(request: Request, exc: Exception) -> Response:
        # A path or method the emulator does not serve answers in the vendor's error JSON, as
        # the real API does, never Starlette's plain-text "Not Found".
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        return error(status, f"Unable to route {request.method} {request.url.path}").response()

    return Starlette(
        routes=[Route(path, endpoint(handler), methods=[method]) for method, path, handler in routes],
        middleware=[Middleware(RecordingMiddleware, state=state)],
        exception_handlers={404: unserved, 405: unserved},
    )
