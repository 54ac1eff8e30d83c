"""HTTP to Schematic: timeouts, retry with backoff honouring Retry-After (the one retry policy,
retry_policy.py, through tenacity: retrying.py; each retry logged as `api.retry`), writes paced by a
rate budget, and the one place where httpx errors become crmsync errors (a vendor's error text masked
of secrets as the error is made).

Safe to share between threads (apply's pool of `max_in_flight` writers): httpx's client is, the
counters take a lock, and a 429's Retry-After holds back every thread's next write, not only the
one that was refused. A 429 is retried until the deadline without using up `attempts` (the request
was refused, not performed): 429s never surface as failures unless the deadline passes; they are
counted in `rate_limited`.

Every call has a total deadline (all attempts, their waits and a hung server included): each
attempt's timeout is cut to what is left of it, and a wait that would pass it ends the call.
Retry-After is read as seconds (`0.5` too) and capped at `retry_after_max`.

Only `client.py` uses this. A create (POST) is never retried once it may have reached
the server: its outcome is unknown, and the caller finds out by listing (no duplicates).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception_type

from crmsync import pacing
from crmsync.errors import (
    AuthError,
    RateLimited,
    RequestRejected,
    ServiceError,
    ServiceUnavailable,
    ServiceUnreachable,
)
from crmsync.logs import get_logger
from crmsync.metrics import count_call
from crmsync.redaction import configured, redact_url, scrub_line
from crmsync.retry_policy import retry_after_seconds, schematic_policy
from crmsync.retrying import PolicyStop, PolicyWait

log = get_logger(__name__)
SERVICE = "Schematic API"
URL_SETTING = "SCHEMATIC_API_URL"
KEY_SETTING = "SCHEMATIC_API_KEY"


class OutcomeUnknown(ServiceUnavailable):
    """A write may or may not have happened (timeout or 5xx after the request was sent)."""


class _Retry(Exception):
    """Internal: a failure worth another attempt, carrying the error to raise if none is left."""

    def __init__(self, error: ServiceError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def _asked(exc: BaseException | None) -> float | None:
    """The Retry-After a failure carries (None: back off)."""
    return exc.retry_after if isinstance(exc, _Retry) else None


def _uses_an_attempt(exc: BaseException | None) -> bool:
    """Every failure but a 429: a 429 performed nothing, only the deadline ends those."""
    return not (isinstance(exc, _Retry) and isinstance(exc.error, RateLimited))


class Transport:
    """Sends one request to Schematic and returns the decoded JSON body."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        attempts: int = 5,
        max_wait: float = 30.0,
        writes_per_second: float = 20.0,
        deadline: float = 15.0,
        retry_after_max: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        budget: pacing.RateBudget | None = None,
        max_in_flight: int = 1,
    ) -> None:
        """`budget` paces writes (default: this process alone, at `writes_per_second`); `max_in_flight`
        is how many calls apply may have under way at once (the connection pool keeps that many)."""
        self._base_url = base_url.rstrip("/")
        self._key = api_key  # masked in every error message (the configured secrets are too)
        self._http = httpx.Client(
            base_url=self._base_url,
            headers={"X-Schematic-Api-Key": api_key, "Accept": "application/json"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
            limits=httpx.Limits(
                max_connections=max(10, 2 * max_in_flight), max_keepalive_connections=max(10, max_in_flight)
            ),
        )
        self.max_in_flight = max(1, max_in_flight)
        self.policy = schematic_policy(attempts, deadline, retry_after_max, max_wait)
        self._timeout = timeout
        self._wait = PolicyWait(self.policy, _asked)
        self._writes = budget or pacing.budget("schematic.writes", writes_per_second)
        self.calls = 0
        self.writes = 0
        self.rate_limited = 0  # 429s answered (each retried after its Retry-After)
        self._count = threading.Lock()
        self._hold_until = 0.0  # monotonic: no write leaves before this (the last 429's Retry-After)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def request(self, method: str, path: str, *, params: Any = None, json: Any = None) -> Any:
        """Send with retries; raise a crmsync ServiceError subclass on failure."""
        deadline_at = time.monotonic() + self.policy.deadline
        retrying = Retrying(
            retry=retry_if_exception_type(_Retry),
            wait=self._wait,
            stop=PolicyStop(self.policy, _uses_an_attempt),  # one per call: it counts the failures
            before_sleep=lambda state: _log_retry(method, path, state),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._once(method, path, params=params, json=json, deadline_at=deadline_at)
        except _Retry as exc:
            raise exc.error from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, method: str, path: str, *, params: Any, json: Any, deadline_at: float) -> Any:
        idempotent = method != "POST"
        if method != "GET":
            self._hold(deadline_at)
            self._writes.take()
        with self._count:
            self.calls += 1
        left = max(0.001, min(self._timeout, deadline_at - time.monotonic()))  # this attempt's share
        try:
            response = self._http.request(
                method, path, params=params, json=json, timeout=httpx.Timeout(left, connect=min(left, 5.0))
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            count_call("schematic", "error")
            raise _Retry(
                ServiceUnreachable(SERVICE, f"cannot connect to {redact_url(self._base_url)}", setting=URL_SETTING)
            ) from exc
        except httpx.TransportError as exc:
            error_cls = ServiceUnavailable if idempotent else OutcomeUnknown
            error = error_cls(SERVICE, f"{method} {path} failed: {type(exc).__name__}", setting=URL_SETTING)
            if idempotent:
                raise _Retry(error) from exc
            raise error from exc
        if method != "GET":
            with self._count:
                self.writes += 1
        return self._decode(method, path, response)

    def _hold(self, deadline_at: float) -> None:
        """Wait out the Retry-After of the last 429 any thread got (the server's bucket is shared too),
        at most until this call's deadline."""
        wait = min(self._hold_until, deadline_at) - time.monotonic()
        if wait > 0:
            time.sleep(wait)

    def _decode(self, method: str, path: str, response: httpx.Response) -> Any:
        status = response.status_code
        count_call("schematic", status)
        if status < 400:
            try:
                return response.json()
            except ValueError as exc:
                # A write that answered 2xx happened, but we cannot see what it made: for a create
                # that is an unknown outcome (found again by its token), never a plain failure.
                # A read changed nothing: it is retried, as a 5xx would be.
                error_cls = OutcomeUnknown if method == "POST" else ServiceUnavailable
                error = error_cls(
                    SERVICE, f"{method} {path} answered {status} with a body that is not JSON", setting=URL_SETTING
                )
                if method == "GET":
                    raise _Retry(error) from exc
                raise error from exc
        # Masked here, where the error is made: the raw body must not sit in the exception, whatever
        # path (a log, a run record, the intake's error column) it takes next.
        message = scrub_line(_error_message(response), (self._key, *configured()))
        if status in (401, 403):
            raise AuthError(SERVICE, f"rejected the API key ({status}: {message})", setting=KEY_SETTING, status=status)
        if status == 429:
            retry_after = _retry_after(response)
            with self._count:
                self.rate_limited += 1
                if retry_after is not None and method != "GET":
                    held = self.policy.retry_after(retry_after) or 0.0
                    self._hold_until = max(self._hold_until, time.monotonic() + held)
            raise _Retry(RateLimited(SERVICE, f"rate limited ({message})", retry_after=retry_after), retry_after)
        if status >= 500:
            text = f"{method} {path} answered {status}: {message}"
            if method == "POST":
                raise OutcomeUnknown(SERVICE, text, setting=URL_SETTING, status=status)
            error = ServiceUnavailable(SERVICE, text, setting=URL_SETTING, status=status)
            if not self.policy.retries_status(status):
                raise error
            raise _Retry(error)
        raise RequestRejected(SERVICE, f"{method} {path} answered {status}: {message}", status=status)


def _log_retry(method: str, path: str, state: Any) -> None:
    """An `api.retry` event: what failed, which attempt, and how long we wait (Retry-After or backoff)."""
    exc = state.outcome.exception() if state.outcome else None
    error = exc.error if isinstance(exc, _Retry) else None
    log.info(
        "api.retry",
        service="schematic",
        method=method,
        path=path,  # the path only: query parameters travel separately and are not logged
        status=error.status if error else None,
        reason=type(error).__name__ if error else type(exc).__name__,
        attempt=state.attempt_number,
        wait_s=round(state.next_action.sleep, 3) if state.next_action else None,
        retry_after=exc.retry_after if isinstance(exc, _Retry) else None,
    )


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "error"
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    return response.reason_phrase or "error"


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After as seconds (`2`, `0.5`); None when absent or not a finite number (an HTTP date
    is not sent by Schematic). Capped by the caller."""
    return retry_after_seconds(response.headers.get("Retry-After"))
