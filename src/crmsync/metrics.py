"""The Prometheus metrics of `crmsync serve`, defined once, and the tracker of each check's last result
behind `/readyz` and the state alerts (`SuccessTracker`: an API, the state database, or a state such
as `runs` or `mappings` is failing until its next good result).

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
UP = Gauge("crmsync_up", "1 when the last check of a service (API or state database) succeeded, else 0", ["service"])
FAILING_STATES = Gauge(
    "crmsync_failing_states", "States failing now: APIs, state database, runs, intake, mappings, withheld"
)
MAPPINGS_REJECTED = Gauge(
    "crmsync_mappings_rejected",
    "1 while an edit of the mapping files is rejected (the previous mappings stay in force)",
)
MAPPINGS_REVISION = Gauge(
    "crmsync_mappings_revision_info",
    "The revision (content hash) of the mappings in force: 1 on its label",
    ["revision"],
)
LAST_RUN = Gauge(
    "crmsync_last_run", "The last reconcile's deal errors, conflicts, pending companies and withheld changes", ["count"]
)
SERVICES = ("schematic", "hubspot", "salesforce", "state database")  # checks that are services (crmsync_up, /readyz)


def count_call(service: str, status: int | str) -> None:
    """One outside API call and how it ended (an HTTP status, or `error` when nothing answered)."""
    API_CALLS.labels(service=service, status=str(status)).inc()


# Told of a state failing (check, what is wrong, message) or ending (check, None, message); serve's alerts
# listen. `message` is the alert's own wording when the caller has one ("" for the standard one).
Listener = Callable[[str, str | None, str], None]


class SuccessTracker:
    """Each check's last result: when each outside service last answered a call successfully (monotonic
    clock), and which checks (services, or states such as `runs`) failed their last time, with why and
    since when (wall clock). Thread-safe; `listener` hears every state that begins or ends."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        listener: Listener | None = None,
    ) -> None:
        self._clock, self._wall, self.listener = clock, wall, listener
        self._last: dict[str, float] = {}
        self._failing: dict[str, tuple[str, float]] = {}  # check → (why, wall time it began)
        self._lock = threading.Lock()

    def succeeded(self, source: str, *, tell: bool = False) -> None:
        """A call to `source` (hubspot, salesforce, schematic) succeeded now (`tell`: as `cleared`)."""
        with self._lock:
            self._last[source] = self._clock()
        LAST_SUCCESS.labels(source=source).set(self._wall())
        self.cleared(source, tell=tell)

    def failed(self, check: str, why: str, message: str = "") -> None:
        """`check` (a service, or a state such as `runs`) failed now, because of `why` (never a secret)."""
        with self._lock:
            began = check not in self._failing
            since = self._wall() if began else self._failing[check][1]
            self._failing[check] = (why, since)
            count = len(self._failing)
        FAILING_STATES.set(count)
        if check in SERVICES:
            UP.labels(service=check).set(0)
        if self.listener is not None:
            self.listener(check, why, message)  # told every time: an alert not delivered yet is retried

    def cleared(self, check: str, message: str = "", *, tell: bool = False) -> None:
        """`check` passed now: the state it was in (if any) ends. The listener hears of it when this
        replica saw the state, or with `tell` (a deliberate check: another replica may have seen it)."""
        with self._lock:
            ended = self._failing.pop(check, None) is not None
            count = len(self._failing)
        FAILING_STATES.set(count)
        if check in SERVICES:
            UP.labels(service=check).set(1)
        if self.listener is not None and (ended or tell):
            self.listener(check, None, message)

    def failing(self) -> dict[str, tuple[str, float]]:
        """Every check failing now: (why, Unix time it began)."""
        with self._lock:
            return dict(self._failing)

    def seen(self, source: str) -> bool:
        """True once `source` answered a call successfully."""
        with self._lock:
            return source in self._last

    def age(self) -> float | None:
        """Seconds since the most recent success of any service; None before the first."""
        with self._lock:
            newest = max(self._last.values(), default=None)
        return None if newest is None else self._clock() - newest
