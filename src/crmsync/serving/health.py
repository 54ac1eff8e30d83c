"""The health of `crmsync serve`: which check an error says is failing (`check_of`), and the periodic
health job every replica runs (`HealthCheck`): the state database, Schematic and every CRM the
mappings read are checked, the CRM schemas refreshed (at least every `schema_every` seconds), the
intake's oldest hint compared with its threshold, the mapping folder looked at, and the alerts Slack
refused sent again. Results go to the tracker (metrics.py), which /readyz, the metrics and the alerts read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from crmsync.connectors.base import Connector
from crmsync.domain import Source
from crmsync.errors import AuthError, ServiceError, ServiceUnavailable
from crmsync.logs import get_logger
from crmsync.mapping.rules import Mappings
from crmsync.metrics import SERVICES, SuccessTracker
from crmsync.schematic.client import SchematicClient
from crmsync.store.intake import IntakeStore

log = get_logger("crmsync.health")


def check_of(exc: BaseException) -> str | None:
    """The check an error says is failing: an API (or the state database) unreachable, failing with 5xx
    or rejecting credentials. None for what fails one item only (a 4xx, a 429) or a bug."""
    if not isinstance(exc, ServiceUnavailable | AuthError):
        return None
    name = exc.service.lower()
    return next((key for key in SERVICES if name.startswith(key)), None)


def report(tracker: SuccessTracker | None, exc: BaseException) -> bool:
    """Tell `tracker` of an API outage `exc` shows; True when it was one."""
    check = check_of(exc)
    if tracker is not None and check is not None:
        tracker.failed(check, str(exc)[:300])
    return check is not None


@dataclass
class HealthCheck:
    """serve's health job (run by every replica: each one's /readyz speaks for itself)."""

    tracker: SuccessTracker
    intake: IntakeStore
    schematic: SchematicClient
    connectors: Mapping[Source, Connector]
    mappings: Callable[[], Mappings]  # a look at the folder: an edit is checked and taken or rejected
    retry_alerts: Callable[[], None] = lambda: None
    intake_max_age: float = 300.0  # seconds the oldest hint may wait before the `intake` state fails
    schema_every: float = 600.0  # seconds between refreshes of the CRM schemas the checks use
    clock: Callable[[], float] = time.monotonic
    _schemas_at: float = field(default=float("-inf"), init=False)

    def __call__(self) -> None:
        """One round of checks."""
        self._database()
        self._schematic()
        self._crms()
        self.mappings()
        self.retry_alerts()

    def _database(self) -> None:
        try:
            self.intake.ping()
            depth = self.intake.depth()
        except ServiceError as exc:
            self.tracker.failed("state database", str(exc)[:300])
            return
        self.tracker.cleared("state database", tell=True)
        age = 0.0 if depth.oldest is None else time.time() - depth.oldest.timestamp()  # as the metric does
        if age > self.intake_max_age:
            why = f"the oldest of {depth.events} hint(s) and {depth.companies} company(ies) has waited {age:.0f} s"
            self.tracker.failed("intake", f"{why} (threshold {self.intake_max_age:.0f} s)")
        else:
            self.tracker.cleared("intake", tell=True)

    def _schematic(self) -> None:
        try:
            self.schematic.list_features()
        except ServiceError as exc:
            if not report(self.tracker, exc):
                log.warning("health.schematic", error=str(exc)[:300])
            return
        self.tracker.succeeded("schematic", tell=True)

    def _crms(self) -> None:
        """Each CRM's deal schema, read again when due (or while it fails): a CRM's check and the
        schema the mapping checks use."""
        due = self.clock() - self._schemas_at >= self.schema_every
        if due:
            self._schemas_at = self.clock()
        failing = self.tracker.failing()
        for source, connector in self.connectors.items():
            if not due and source.value not in failing:
                continue
            try:
                connector.refresh_schema()
                connector.deal_schema()
            except ServiceError as exc:
                if not report(self.tracker, exc):
                    log.warning("health.crm", source=source.value, error=str(exc)[:300])
                continue
            self.tracker.succeeded(source.value, tell=True)
