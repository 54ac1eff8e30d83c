"""The one retry policy of every outside call: which answers are retried, how many attempts, how long
to wait (Retry-After, read as seconds with fractions and capped, else exponential backoff with
jitter), and the total deadline of a call, attempts and waits included.

Pure: no clock, no I/O, no randomness of its own (the caller passes the time left and a random
number), so the decisions are tested without a server. Each transport adapts it to its library:
httpx for Schematic (schematic/transport.py, through tenacity) and the sandbox's pushes
(sandbox/push.py), urllib3 for the HubSpot SDK (connectors/hubspot_retry.py), requests for
simple-salesforce (connectors/salesforce.py). Each outside system keeps its own numbers (the
constructors below); the rules are these functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# 429: refused, not performed (retry after its Retry-After); these 5xx: the service's side, passing.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
ANY_5XX = frozenset({429, *range(500, 600)})  # Schematic retries every 5xx of a read


@dataclass(frozen=True)
class RetryPolicy:
    """How one outside system's calls are retried."""

    attempts: int = 5  # tries per call, the first one included
    deadline: float = 15.0  # seconds one call may take, every attempt and wait included
    retry_after_max: float = 30.0  # the longest Retry-After honoured; longer asks are cut to this
    backoff: float = 0.2  # seconds of the first backoff wait, doubled after each further failure
    backoff_max: float = 30.0  # the longest backoff wait
    jitter: float = 0.0  # up to this many seconds added to a backoff (spreads replicas apart)
    statuses: frozenset[int] = RETRY_STATUSES  # HTTP answers worth another attempt

    def retries_status(self, status: int | None) -> bool:
        """True when an answer with `status` is worth another attempt (None: no answer at all, which is)."""
        return status is None or status in self.statuses

    def backoff_wait(self, failures: int, rand: float = 0.0) -> float:
        """The wait after the `failures`-th failure (1, 2, …) when the server named none: `backoff`
        doubled per failure, plus `rand` (0 to 1) of the jitter, at most `backoff_max`."""
        try:
            wait = float(self.backoff * 2 ** max(0, failures - 1) + rand * self.jitter)
        except OverflowError:
            return self.backoff_max
        return max(0.0, min(wait, self.backoff_max))

    def retry_after(self, seconds: float | None) -> float | None:
        """A Retry-After the server asked for (seconds, see `retry_after_seconds`), capped at
        `retry_after_max`; None when it named none."""
        return None if seconds is None else min(max(0.0, seconds), self.retry_after_max)

    def wait(self, failures: int, retry_after: float | None, rand: float = 0.0) -> float:
        """The wait before the next attempt: the capped Retry-After when the server sent one, else backoff."""
        asked = self.retry_after(retry_after)
        return asked if asked is not None else self.backoff_wait(failures, rand)

    def out_of_attempts(self, failures: int) -> bool:
        """True when `failures` used up the attempts."""
        return failures >= self.attempts

    def fits(self, wait: float, left: float, attempt_time: float = 0.0) -> bool:
        """True when waiting `wait` and trying once more (`attempt_time` at most) ends within the `left`
        seconds of the call's deadline."""
        return wait + attempt_time <= left


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header as a number of seconds ≥ 0 (`2`, `0.5`), or None (absent, a date, nan,
    inf). Transports whose servers send HTTP dates turn those into seconds themselves."""
    try:
        seconds = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def schematic_policy(attempts: int, deadline: float, retry_after_max: float, max_wait: float = 30.0) -> RetryPolicy:
    """Schematic: `attempts` failures other than 429 (a 429 performed nothing: only the deadline ends
    those), backoff 0.2 s doubling with 0.2 s of jitter, waits at most `max_wait`."""
    cap = min(max_wait, retry_after_max)
    return RetryPolicy(attempts, deadline, cap, backoff=0.2, backoff_max=max_wait, jitter=0.2, statuses=ANY_5XX)


def hubspot_policy(retries: int, deadline: float, retry_after_max: float, backoff: float) -> RetryPolicy:
    """HubSpot (urllib3 inside the SDK): `retries` after the first attempt, urllib3's backoff factor."""
    return RetryPolicy(retries + 1, deadline, retry_after_max, backoff=backoff, backoff_max=120.0)


def salesforce_policy(retries: int, deadline: float, retry_wait: float) -> RetryPolicy:
    """Salesforce: `retries` after the first attempt, backoff from `retry_wait` doubling to 10 s."""
    return RetryPolicy(retries + 1, deadline, backoff=retry_wait, backoff_max=10.0)


def push_policy(attempts: int, backoff: float) -> RetryPolicy:
    """The sandbox's webhook pushes (as the vendors deliver: at least once): backoff doubling to 5 s,
    no deadline but the attempts."""
    return RetryPolicy(attempts, math.inf, backoff=backoff, backoff_max=5.0)
