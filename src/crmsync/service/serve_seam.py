"""TEMPORARY SEAM (to be replaced by the single reconcile use case, `crmsync.service.reconcile`):
a `ReconcileScope` over today's plan → apply → record sequence, for the intake worker and serve.

This is the one place that chains them for `serve`; when `service.reconcile.reconcile(...)` (with its
per-company exclusion) lands, `reconcile_scope` becomes a call to it and nothing else changes (move
the metric counting below into it, or keep it here around the call).
"""

from __future__ import annotations

from collections.abc import Callable

from crmsync.domain import CompanyId
from crmsync.mapping.rules import Mappings
from crmsync.metrics import CHANGES, SuccessTracker
from crmsync.service.apply import ApplyReport, apply_plan
from crmsync.service.history import record_apply
from crmsync.service.intake import ReconcileScope
from crmsync.service.sync import Context, build_plan


def reconcile_scope(
    ctx: Context, mappings: Callable[[], Mappings], tracker: SuccessTracker | None = None
) -> ReconcileScope:
    """Plan, apply and record a reconcile of some companies (None: all) with the edges of `ctx`; count its
    changes, and tell `tracker` which services answered (every complete CRM read, and Schematic)."""

    def run(scope: frozenset[CompanyId] | None, trigger: str) -> ApplyReport:
        plan = build_plan(ctx, mappings(), scope=scope)
        if tracker is not None:
            tracker.succeeded("schematic")
            for read in plan.reads:
                if read.complete:
                    tracker.succeeded(read.source.value)
        report = apply_plan(ctx, plan)
        record_apply(ctx, plan, report, trigger=trigger[:32])
        for result in report.results:
            CHANGES.labels(action=result.action, result="ok" if result.ok else "failed").inc()
        return report

    return run
