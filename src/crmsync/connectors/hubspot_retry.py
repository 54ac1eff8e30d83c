"""The urllib3 Retry the HubSpot SDK is configured with: the retry policy (retry_policy.py) adapted
to urllib3. Retry-After read as seconds (`0.5` too) and capped, and a total deadline per SDK call,
attempts and waits included; urllib3 itself counts the attempts and computes the backoff curve
from the policy's factor (its first retry does not wait).

hubspot-api-client takes a Retry as configuration (`hubspot.Client.create(retry=…)`); this is that
Retry, never a patch. urllib3 keeps one Retry per call chain but has no clock of its own, so the
connector marks the start of each SDK call with `begin()` (per thread: the call is synchronous).
A retry is given up, and the last answer or error stands, when the wait it needs plus one more
attempt would end past the deadline. `LoggedRetry` logs each retry (`api.retry`) before waiting.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Self
from urllib.parse import urlsplit

from urllib3.exceptions import InvalidHeader, MaxRetryError
from urllib3.util.retry import Retry

from crmsync.logs import get_logger
from crmsync.retry_policy import RetryPolicy, retry_after_seconds

log = get_logger("crmsync.connectors.hubspot")

_call = threading.local()


def begin(deadline: float) -> None:
    """Start the deadline of the SDK call this thread is about to make."""
    _call.deadline_at = time.monotonic() + deadline


def seconds_left() -> float:
    """What is left of this thread's current call deadline (infinite outside one)."""
    deadline_at = getattr(_call, "deadline_at", None)
    return math.inf if deadline_at is None else deadline_at - time.monotonic()


class DeadlineRetry(Retry):
    """Retry with a Retry-After cap (`retry_after_cap` seconds) and the thread's call deadline;
    `attempt_time` is the longest one attempt may take (its read timeout)."""

    def __init__(self, *args: Any, retry_after_cap: float = 30.0, attempt_time: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after_cap = retry_after_cap
        self.attempt_time = attempt_time
        self.policy = RetryPolicy(retry_after_max=retry_after_cap)  # the decisions below; urllib3 counts

    @classmethod
    def from_policy(cls, policy: RetryPolicy, *, attempt_time: float) -> Self:
        """The Retry for `policy`: its attempts, statuses, backoff factor and Retry-After cap; POSTs
        retried too (HubSpot's searches and batch reads are POSTs that change nothing)."""
        retry = cls(
            retry_after_cap=policy.retry_after_max,
            attempt_time=attempt_time,
            total=policy.attempts - 1,
            backoff_factor=policy.backoff,
            backoff_max=policy.backoff_max,
            status_forcelist=tuple(sorted(policy.statuses)),
            allowed_methods=None,
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        retry.policy = policy
        return retry

    def new(self, **kw: Any) -> Self:
        retry = super().new(**kw)
        retry.retry_after_cap, retry.attempt_time, retry.policy = self.retry_after_cap, self.attempt_time, self.policy
        return retry

    def get_retry_after(self, response: Any) -> float | None:
        """Retry-After in seconds: a number (fractions accepted) or an HTTP date, capped; None when
        absent or unreadable (the exponential backoff applies then)."""
        value = response.headers.get("Retry-After")
        if value is None:
            return None
        seconds = retry_after_seconds(value)
        if seconds is None:
            try:
                seconds = super().parse_retry_after(value)  # an HTTP date (or nan/inf: refused below)
            except InvalidHeader:
                return None
            if not math.isfinite(seconds):
                return None
        return self.policy.retry_after(seconds)

    def increment(self, method: str | None = None, url: str | None = None, *args: Any, **kwargs: Any) -> Self:
        retry = super().increment(method, url, *args, **kwargs)
        response = kwargs.get("response", args[0] if args else None)
        wait = retry.get_retry_after(response) if response is not None and self.respect_retry_after_header else None
        if wait is None:
            wait = retry.get_backoff_time()
        if not self.policy.fits(wait, seconds_left(), self.attempt_time):  # it would end past the deadline
            error = kwargs.get("error", args[1] if len(args) > 1 else None)
            pool: Any = kwargs.get("_pool")
            raise MaxRetryError(pool, url or "", error) from error
        return retry


class LoggedRetry(DeadlineRetry):
    """The SDK's Retry (Retry-After capped, a deadline per call) that logs each retry (`api.retry`) before waiting."""

    def sleep(self, response: Any = None) -> None:
        """Log what is retried and how long we wait (Retry-After, else backoff), then wait."""
        last = self.history[-1] if self.history else None
        after = self.get_retry_after(response) if self.respect_retry_after_header and response else None
        log.info(
            "api.retry",
            service="hubspot",
            method=last.method if last else None,
            path=urlsplit(last.url or "").path if last else None,  # never the query string
            status=last.status if last else None,
            reason=type(last.error).__name__ if last and last.error else None,
            attempt=len(self.history),
            wait_s=round(after if after is not None else self.get_backoff_time(), 3),
            retry_after=after,
        )
        super().sleep(response)
