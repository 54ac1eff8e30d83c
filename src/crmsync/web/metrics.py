"""`GET /metrics`: the metrics of `crmsync.metrics` plus the intake depth, read from the database at scrape.

Served by a plain Route with `generate_latest` (a Mount would answer `/metrics` with a redirect).
Every replica reports the same database values: aggregate them with `max`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from crmsync.errors import ServiceError
from crmsync.logs import get_logger
from crmsync.store.intake import Depth

log = get_logger("crmsync.web")


class IntakeCollector(Collector):
    """Intake depth and the age of the oldest pending hint, evaluated at each scrape."""

    def __init__(self, depth: Callable[[], Depth], clock: Callable[[], float] = time.time) -> None:
        self._depth, self._clock = depth, clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            depth = self._depth()
        except ServiceError as exc:
            log.warning("metrics.intake_unavailable", error=type(exc).__name__, detail=str(exc))
            return
        pending = GaugeMetricFamily("crmsync_intake_pending", "Hints and companies not yet processed", labels=["queue"])
        pending.add_metric(["events"], depth.events)
        pending.add_metric(["companies"], depth.companies)
        yield pending
        age = 0.0 if depth.oldest is None else max(0.0, self._clock() - depth.oldest.timestamp())
        yield GaugeMetricFamily(
            "crmsync_intake_oldest_pending_age_seconds", "Age of the oldest unprocessed hint", value=age
        )


def metrics_endpoint(
    depth: Callable[[], Depth], registry: CollectorRegistry = REGISTRY
) -> Callable[[Request], Response]:
    """The /metrics handler: the process-wide registry plus this app's intake collector (kept off the global
    registry, so that several apps in one process, as in tests, do not collide)."""
    local = CollectorRegistry(auto_describe=False)
    local.register(IntakeCollector(depth))

    def metrics(_request: Request) -> Response:
        return Response(generate_latest(registry) + generate_latest(local), media_type=CONTENT_TYPE_LATEST)

    return metrics
