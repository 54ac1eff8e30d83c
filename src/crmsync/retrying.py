"""The retry policy (retry_policy.py) adapted to tenacity: the wait and the stop that
schematic/transport.py (over httpx) and connectors/salesforce.py (around requests) give their
`Retrying`. urllib3 has its own adapter inside the HubSpot SDK (connectors/hubspot_retry.py).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from tenacity.stop import stop_base
from tenacity.wait import wait_base

from crmsync.retry_policy import RetryPolicy


class PolicyWait(wait_base):
    """Wait what the server asked for (`retry_after` reads it from the failure), capped, else the
    policy's backoff with jitter."""

    def __init__(self, policy: RetryPolicy, retry_after: Callable[[BaseException | None], float | None]) -> None:
        self.policy = policy
        self.retry_after = retry_after

    def __call__(self, retry_state: Any) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        return self.policy.wait(retry_state.attempt_number, self.retry_after(exc), random.random())


class PolicyStop(stop_base):
    """Stop when the failures used up the policy's attempts, or when the next wait would end past the
    call's deadline. `counts` says which failures use up an attempt (all by default; Schematic's 429s
    do not: the request was refused, not performed, and only the deadline ends those). With `counts`
    the stop keeps a count: make one per call."""

    def __init__(self, policy: RetryPolicy, counts: Callable[[BaseException | None], bool] | None = None) -> None:
        self.policy = policy
        self.counts = counts
        self.failures = 0

    def __call__(self, retry_state: Any) -> bool:
        if self.counts is None:
            failures = retry_state.attempt_number
        else:
            exc = retry_state.outcome.exception() if retry_state.outcome else None
            self.failures += bool(self.counts(exc))
            failures = self.failures
        if self.policy.out_of_attempts(failures):
            return True
        left = self.policy.deadline - retry_state.seconds_since_start
        return not self.policy.fits(retry_state.upcoming_sleep, left)
