"""Rate budgets: how fast crmsync may call an API (Schematic writes, HubSpot searches).

A `RateBudget` is a token bucket whose `take()` blocks until the call is allowed. `LocalBudget`
paces one process; `crmsync.store.budget.SharedBudget` keeps the bucket in the state database so
that the rate holds in total across every process sharing it. Both use `reserve`, the bucket's
arithmetic, which is pure. Built by the wiring, passed to the Schematic transport and the HubSpot
connector, which never pace themselves.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from crmsync import progress
from crmsync.logs import get_logger

LOG_WAITS_OVER = 0.05  # seconds: shorter waits are the rhythm of pacing, not worth a line (debug level)
NOTABLE_WAIT = 1.0  # seconds: a wait this long is logged at info level (the budget is the bottleneck)

log = get_logger(__name__)


class RateBudget(Protocol):
    """Permission to make calls at a configured rate."""

    name: str  # e.g. "schematic.writes": the bucket's name, also in `rate.wait` log events

    def take(self, n: int = 1) -> None:
        """Block until `n` calls are allowed, then count them as made."""
        ...


@dataclass(frozen=True)
class Bucket:
    """A token bucket's state: `tokens` (negative: reserved ahead, to be waited for) as of `at`."""

    tokens: float
    at: float  # seconds, on the clock of whoever keeps the bucket


def reserve(bucket: Bucket | None, now: float, n: float, *, rate: float, burst: float) -> tuple[Bucket, float]:
    """Take `n` tokens from `bucket` (None: a new, full one) at `now`: the bucket after, and how long
    the caller must wait before using them.

    Tokens refill at `rate` per second up to `burst`. A take always succeeds but may leave the bucket
    in debt, which the caller waits out, so callers are served in the order they reserved and, by any
    instant t, at most `burst + rate * (t - start)` tokens have been used."""
    tokens = burst if bucket is None else min(burst, bucket.tokens + max(0.0, now - bucket.at) * rate)
    tokens -= n
    wait = -tokens / rate if tokens < 0 else 0.0
    return Bucket(tokens, max(now, bucket.at) if bucket else now), wait


def log_wait(name: str, wait: float, n: int) -> None:
    """A `rate.wait` event when the wait is long enough to matter: debug level over 50 ms, info over 1 s
    (and a progress event, so a terminal shows the pacing)."""
    progress.emit(progress.RateWait(name, wait))
    if wait > LOG_WAITS_OVER:
        emit = log.info if wait >= NOTABLE_WAIT else log.debug
        emit("rate.wait", budget=name, wait_s=round(wait, 3), tokens=n)


class Unlimited:
    """No pacing at all (a rate of 0: the sandbox, benchmarks)."""

    def __init__(self, name: str = "unlimited") -> None:
        self.name = name

    def take(self, n: int = 1) -> None:
        """Never waits."""


class LocalBudget:
    """A token bucket in this process, shared by its threads. `burst` 1 spaces calls evenly."""

    def __init__(
        self,
        name: str,
        rate: float,
        *,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("a rate budget needs a rate > 0 (use Unlimited for none)")
        self.name = name
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._clock = clock
        self._sleep = sleep
        self._bucket: Bucket | None = None
        self._lock = threading.Lock()

    def take(self, n: int = 1) -> None:
        """Reserve `n` tokens, then wait out any debt (outside the lock: other threads queue behind)."""
        with self._lock:
            self._bucket, wait = reserve(self._bucket, self._clock(), n, rate=self.rate, burst=self.burst)
        if wait > 0:
            log_wait(self.name, wait, n)
            self._sleep(wait)


def budget(name: str, rate: float) -> RateBudget:
    """This process's budget for `rate` calls per second (0: unlimited)."""
    return LocalBudget(name, rate) if rate > 0 else Unlimited(name)
