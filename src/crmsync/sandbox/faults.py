"""Fault injection for every emulator: an ASGI layer in front of each app, so a fault can strike
before the emulator commits a request or after it did, whatever the API.

    sb.faults.schematic.add(Mode.ERROR_AFTER, method="PUT", path="/company-overrides", probability=0.1)
    sb.faults.hubspot.add(Mode.RATE_LIMIT, path="/crm/v3/objects/deals/search", retry_after="0.5", times=3)
    sb.faults.salesforce.add(Mode.HANG, probability=0.05)

A rule matches a method (`*`: any) and a path (a prefix, or a glob when it holds `*`); it fires
with its `probability`, drawn from the emulator's own `random.Random(seed)`, at most `times`
times (None: without end); with `burst: n` a fire also takes the next n - 1 matching requests;
with `after: n` the first n matching requests pass untouched.
The first matching rule that fires decides the request. Modes:

    error_before   answer `status` (5xx) without performing the request
    error_after    perform it, then answer `status` instead of its answer
    rate_limit     answer 429 with `Retry-After: retry_after` (integer, fractional or huge)
    latency        perform it, then wait `seconds` before answering (late: the client may have gone)
    delay          wait `seconds`, then perform it and answer (a write that lands late)
    hang           accept, never perform, answer nothing for `seconds`, then drop the connection
    reset_before   drop the connection without performing the request
    reset_after    perform it, then drop the connection mid-answer (a lost answer)
    garble         perform it, then answer 200 with a body that is not JSON (a proxy's page)

Error bodies take each service's shape (`style`), saying the rule's `message` when it has one.
`injected` counts what fired, by mode.
The older `fail_next`/`hang_after_commit` helpers of each emulator keep working beside this.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import logging
import random
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class Mode(StrEnum):
    """What an injected fault does (see the module docstring)."""

    ERROR_BEFORE = "error_before"
    ERROR_AFTER = "error_after"
    RATE_LIMIT = "rate_limit"
    LATENCY = "latency"
    DELAY = "delay"
    HANG = "hang"
    RESET_BEFORE = "reset_before"
    RESET_AFTER = "reset_after"
    GARBLE = "garble"


DROPPED = "sandbox fault: connection dropped"
GARBLED = b"<html><body>502 upstream reset</body></html>"  # a proxy's page where JSON was due
AFTER_COMMIT = frozenset({Mode.ERROR_AFTER, Mode.RESET_AFTER, Mode.GARBLE, Mode.LATENCY})


@dataclass
class Fault:
    """One injection rule."""

    mode: Mode
    method: str = "*"
    path: str = ""
    probability: float = 1.0
    times: int | None = None  # None: every time it is drawn
    status: int = 503
    retry_after: str | None = "1"  # the 429's Retry-After header, as sent: "2", "0.5", "600"
    seconds: float = 0.0  # latency, or how long a hang lasts before the connection drops
    burst: int = 1  # once it fires, it also takes the next burst - 1 matching requests (429 bursts)
    after: int = 0  # let this many matching requests through first (strike the n-th write)
    streak: int = 0  # of the current burst, how many requests are still to take
    message: str | None = None  # the error body's message (None: the service's usual words)

    def matches(self, method: str, path: str) -> bool:
        """Whether the rule covers a request (a used-up rule covers none)."""
        if self.times is not None and self.times <= 0:
            return False
        if self.method != "*" and self.method.upper() != method.upper():
            return False
        return fnmatch.fnmatchcase(path, self.path) if "*" in self.path else path.startswith(self.path)


class Faults:
    """The rules of one emulator, its seeded random draws, and what fired."""

    def __init__(self, style: str, seed: int = 0) -> None:
        self.style = style
        self.rules: list[Fault] = []
        self.injected: Counter[Mode] = Counter()
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def add(self, mode: Mode | str, **fields: Any) -> Fault:
        """Add a rule (fields as `Fault`'s); returns it."""
        rule = Fault(Mode(mode), **fields)
        with self._lock:
            self.rules.append(rule)
        return rule

    def seed(self, seed: int) -> None:
        """Restart the random draws from `seed`."""
        with self._lock:
            self._random = random.Random(seed)

    def clear(self) -> None:
        """Remove every rule (the counts stay)."""
        with self._lock:
            self.rules.clear()

    def pick(self, method: str, path: str) -> Fault | None:
        """The fault for this request, if one fires; counts it and uses one of its `times`."""
        with self._lock:
            for rule in self.rules:
                if not rule.matches(method, path):
                    continue
                if rule.after > 0:
                    rule.after -= 1
                    continue
                if rule.streak > 0 or self._random.random() < rule.probability:
                    rule.streak = rule.streak - 1 if rule.streak > 0 else rule.burst - 1
                    if rule.times is not None:
                        rule.times -= 1
                    self.injected[rule.mode] += 1
                    return rule
        return None


class SandboxFaults:
    """The fault rules of the three emulators, seeded together."""

    def __init__(self, seed: int = 0) -> None:
        self.hubspot = Faults("hubspot", seed)
        self.schematic = Faults("schematic", seed + 1)
        self.salesforce = Faults("salesforce", seed + 2)

    def all(self) -> tuple[Faults, Faults, Faults]:
        """Every emulator's rules."""
        return (self.hubspot, self.schematic, self.salesforce)

    def seed(self, seed: int) -> None:
        """Restart every emulator's draws from `seed`."""
        for n, faults in enumerate(self.all()):
            faults.seed(seed + n)

    def clear(self) -> None:
        """Remove every rule of every emulator."""
        for faults in self.all():
            faults.clear()

    def injected(self) -> Counter[str]:
        """What fired, by `emulator/mode`."""
        return Counter({f"{f.style}/{mode}": n for f in self.all() for mode, n in f.injected.items()})


class FaultInjector:
    """ASGI middleware: draws a fault for each HTTP request and acts it out around `app`."""

    def __init__(self, app: App, faults: Faults) -> None:
        self.app = app
        self.faults = faults
        logging.getLogger("uvicorn.error").addFilter(_quiet_drops)  # once: a filter is added once

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fault = self.faults.pick(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if fault is None:
            await self.app(scope, receive, send)
            return
        mode = fault.mode
        if mode is Mode.LATENCY:
            answer: list[Message] = []
            await self.app(scope, receive, _keep(answer))
            await asyncio.sleep(fault.seconds)
            for message in answer:
                await send(message)
        elif mode is Mode.DELAY:
            await asyncio.sleep(fault.seconds)
            await self.app(scope, receive, send)
        elif mode is Mode.HANG:
            await asyncio.sleep(fault.seconds or 3600.0)
            await _drop(send)
        elif mode is Mode.RESET_BEFORE:
            await _drop(send)
        elif mode is Mode.ERROR_BEFORE:
            await _answer(send, *error_body(self.faults.style, fault.status, fault.message))
        elif mode is Mode.RATE_LIMIT:
            status, body, headers = error_body(self.faults.style, 429, fault.message)
            retry = [(b"retry-after", fault.retry_after.encode())] if fault.retry_after is not None else []
            await _answer(send, status, body, headers + retry)
        else:  # after the commit: perform the request, then spoil its answer
            await self.app(scope, receive, _discard)
            if mode is Mode.ERROR_AFTER:
                await _answer(send, *error_body(self.faults.style, fault.status, fault.message))
            elif mode is Mode.RESET_AFTER:
                await _drop(send)
            else:
                await _answer(send, 200, GARBLED, [(b"content-type", b"text/html")])


def error_body(style: str, status: int, message: str | None = None) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """An injected error in the service's own shape: status, JSON body, headers. `message`: what the
    body says (a vendor echoing a credential back, say); by default the service's usual words."""
    if message is None:
        message = "Rate limit exceeded" if status == 429 else f"injected failure ({status})"
    body: Any
    if style == "hubspot":
        category = "RATE_LIMITS" if status == 429 else "INTERNAL_ERROR" if status >= 500 else "ERROR"
        body = {"status": "error", "message": message, "correlationId": "00000000-fault", "category": category}
    elif style == "salesforce":
        code = "REQUEST_LIMIT_EXCEEDED" if status == 429 else "SERVER_UNAVAILABLE" if status >= 500 else "ERROR"
        body = [{"message": message, "errorCode": code}]
    else:
        body = {"error": message}
    return status, json.dumps(body).encode(), [(b"content-type", b"application/json")]


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _drop(send: Send) -> None:
    """Start an answer and break the connection halfway: the client gets no usable response."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"data": {', "more_body": True})
    raise ConnectionResetError(DROPPED)


def _quiet_drops(record: logging.LogRecord) -> bool:
    """Keep the server's log free of the tracebacks of connections dropped on purpose."""
    error = record.exc_info[1] if record.exc_info else None
    return not (isinstance(error, ConnectionResetError) and str(error).startswith(DROPPED))


def _keep(answer: list[Message]) -> Send:
    """A send that keeps the messages of an answer to be sent later."""

    async def keep(message: Message) -> None:
        answer.append(message)

    return keep


async def _discard(message: Message) -> None:
    """The send of a request whose answer is replaced: its own answer goes nowhere."""
