"""serve's `ReconcileScope`: the intake worker's call into the one reconcile use case, with what serve
adds around it — the run's changes and counts for /metrics, the services that answered (or failed)
told to the health tracker (/readyz and the API states), and the run's outcome told to the alerter
(the `runs` and `withheld` states: one message when each begins, one when it ends).
"""

from __future__ import annotations

from collections.abc import Callable

from crmsync.domain import CompanyId, RunStatus, Trigger
from crmsync.mapping.rules import Mappings
from crmsync.metrics import CHANGES, LAST_RUN, SuccessTracker
from crmsync.reconcile.notices import MASS_CHANGE
from crmsync.service.context import Context
from crmsync.service.reconcile import Mode, Outcome, Request, reconcile
from crmsync.serving.alerts import Alerter, RunFacts, run_states
from crmsync.serving.health import report
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
            if not report(tracker, exc):  # an API down is its own state: one outage, one message
                facts = RunFacts(None, trigger, RunStatus.FAILED, {}, (f"{type(exc).__name__}: {exc}",))
                _observe(tracker, alerter, facts)
            raise
        if tracker is not None and outcome.run is not None:
            tracker.succeeded("schematic")
            for read in outcome.run.reads:
                if read.complete:
                    tracker.succeeded(read.source.value)
        _count(outcome)
        _observe(tracker, alerter, RunFacts.of(outcome, trigger, full=scope is None))
        return outcome

    return run


def observe_run(tracker: SuccessTracker | None, alerter: Alerter | None, facts: RunFacts) -> None:
    """A run's `runs` and `withheld` states, told to the tracker (which tells its listener, the alerter),
    or straight to the alerter when there is no tracker."""
    if tracker is None:
        if alerter is not None:
            alerter.observe(facts)
        return
    for check, why, message in run_states(facts):
        if why is None:
            tracker.cleared(check, message, tell=True)  # another replica may have seen it fail
        else:
            tracker.failed(check, why, message)


_observe = observe_run


def _count(outcome: Outcome) -> None:
    """The run's changes (counters) and its last counts (gauges)."""
    if outcome.report is not None:
        for result in outcome.report.results:
            CHANGES.labels(action=result.action, result="ok" if result.ok else "failed").inc()
    if outcome.run is None:
        return
    plan = outcome.run.plan
    withheld = sum(r.affected for r in outcome.refusals if r.kind in MASS_CHANGE)
    withheld += sum(sum(w.withheld.values()) for w in plan.warnings)
    counts = {"deal_errors": len(plan.problems), "conflicts": len(plan.conflicts),
              "pending_companies": len({p.company for p in plan.pending}), "withheld_changes": withheld}  # fmt: skip
    for name, value in counts.items():
        LAST_RUN.labels(count=name).set(value)
