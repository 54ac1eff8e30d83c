"""serve's `ReconcileScope`: the intake worker's call into the one reconcile use case, with what serve
adds around it — the run's changes counted for /metrics, the services that answered told to
/readyz, and the run's outcome told to the alerter (one Slack message on failing, one on recovery).
"""

from __future__ import annotations

from collections.abc import Callable

from crmsync.domain import CompanyId, RunStatus, Trigger
from crmsync.mapping.rules import Mappings
from crmsync.metrics import CHANGES, SuccessTracker
from crmsync.service.context import Context
from crmsync.service.reconcile import Mode, Outcome, Request, reconcile
from crmsync.serving.alerts import Alerter, RunFacts
from crmsync.serving.worker import ReconcileScope


def reconcile_scope(
    ctx: Context,
    mappings: Callable[[], Mappings],
    tracker: SuccessTracker | None = None,
    alerter: Alerter | None = None,
    lock_wait: float = 10.0,
) -> ReconcileScope:
    """Reconcile some companies (None: all) with the edges of `ctx` and the mappings in force."""

    def run(scope: frozenset[CompanyId] | None, trigger: Trigger) -> Outcome:
        request = Request(trigger, Mode.APPLY, scope=scope, lock_wait=lock_wait)
        try:
            outcome = reconcile(ctx, mappings(), request)
        except Exception as exc:
            if alerter is not None:
                alerter.observe(RunFacts(None, trigger, RunStatus.FAILED, {}, (f"{type(exc).__name__}: {exc}",)))
            raise
        if tracker is not None and outcome.run is not None:
            tracker.succeeded("schematic")
            for read in outcome.run.reads:
                if read.complete:
                    tracker.succeeded(read.source.value)
        if outcome.report is not None:
            for result in outcome.report.results:
                CHANGES.labels(action=result.action, result="ok" if result.ok else "failed").inc()
        if alerter is not None:
            alerter.observe(RunFacts.of(outcome, trigger))
        return outcome

    return run
