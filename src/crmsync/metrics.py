"""The Prometheus metrics of `crmsync serve`, defined once, and the last-success tracker behind `/readyz`.

Any layer may count here (it imports nothing of crmsync): the service counts runs and changes, the
edges API calls, the intake worker latency. `web/metrics.py` exposes them (plus the intake depth,
read from the database at scrape time). Labels never carry ids or secrets: bounded sets only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram

RUNS = Counter("crmsync_runs", "Reconcile runs by trigger and result (ok, failed, refused)", ["trigger", "result"])
CHANGES = Counter(
    "crmsync_changes", "Override changes applied, by action and result (ok, failed)", ["action", "result"]
)
API_CALLS = Counter(
    "crmsync_api_calls", "Outside API calls by service and status (HTTP code or error)", ["service", "status"]
)
LAST_SUCCESS = Gauge(
    "crmsync_last_success_timestamp_seconds", "Unix time of the last successful sync per source", ["source"]
)
WEBHOOKS = Counter(
    "crmsync_webhooks",
    "Webhook requests by source and outcome (stored, duplicate, ignored, rejected)",
    ["source", "outcome"],
)
LATENCY = Histogram(
    "crmsync_webhook_to_applied_seconds",
    "From the first hint's arrival to the end of the reconcile that answered it",
    buckets=(0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)  # fmt: skip


def count_call(service: str, status: int | str) -> None:
    """One outside API call and how it ended (an HTTP status, or `error` when nothing answered)."""
    API_CALLS.labels(service=service, status=str(status)).inc()


class SuccessTracker:
    """When each outside service last answered a call successfully (monotonic clock); thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self._clock, self._wall = clock, wall
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def succeeded(self, source: str) -> None:
        """A call to `source` (hubspot, salesforce, schematic) succeeded now."""
        with self._lock:
            self._last[source] = self._clock()
        LAST_SUCCESS.labels(source=source).set(self._wall())

    def age(self) -> float | None:
        """Seconds since the most recent success of any service; None before the first."""
        with self._lock:
            newest = max(self._last.values(), default=None)
        return None if newest is None else self._clock() - newest
