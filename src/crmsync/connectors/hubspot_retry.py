"""The urllib3 Retry the HubSpot SDK is configured with: Retry-After read as seconds (`0.5` too)
and capped, and a total deadline per SDK call, attempts and waits included.

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

    def new(self, **kw: Any) -> Self:
        retry = super().new(**kw)
        retry.retry_after_cap, retry.attempt_time = self.retry_after_cap, self.attempt_time
        return retry

    def get_retry_after(self, response: Any) -> float | None:
        """Retry-After in seconds: a number (fractions accepted) or an HTTP date, capped; None when
        absent or unreadable (the exponential backoff applies then)."""
        value = response.headers.get("Retry-After")
        if value is None:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = super().parse_retry_after(value)  # an HTTP date
            except InvalidHeader:
                return None
        if not math.isfinite(seconds):
            return None
        return min(max(0.0, seconds), self.retry_after_cap)

    def increment(self, method: str | None = None, url: str | None = None, *args: Any, **kwargs: Any) -> Self:
        retry = super().increment(method, url, *args, **kwargs)
        response = kwargs.get("response", args[0] if args else None)
        wait = retry.get_retry_after(response) if response is not None and self.respect_retry_after_header else None
        if wait is None:
            wait = retry.get_backoff_time()
        if wait + self.attempt_time > seconds_left():  # another attempt would end past the deadline
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
