"""Run history: every plan and apply is stored with its counts, per-change results and
errors, for `crmsync status`. Called by the entry points after a run.
"""

from __future__ import annotations

from typing import Any

from crmsync.reconcile.drift import DriftAction
from crmsync.service.apply import ApplyReport
from crmsync.service.safety import remember_counts
from crmsync.service.sync import Context, PlanRun, source_deal_counts


def record_plan(
    ctx: Context, run: PlanRun, *, trigger: str, command: str = "plan", status: str = "ok", reason: str = ""
) -> int:
    """Store a run that computed a plan and wrote nothing (`reason`: why, when it was refused)."""
    run_id = ctx.store.start_run(command, trigger)
    details = run_details(run)
    summary = {
        **run.plan.summary(),
        "conflicts": len(run.plan.conflicts),
        "pending": len(run.plan.pending),
        "errors": len(run.plan.problems),
        "drift": len(details["drift"]),
        "details": details,
    }
    errors = ([reason] if reason else []) + [str(p) for p in run.plan.problems]
    ctx.store.finish_run(run_id, status, summary, errors)
    if command == "apply" and status == "ok":
        remember_counts(ctx, run)  # an apply with nothing to do is a successful apply too
    return run_id


def record_apply(ctx: Context, run: PlanRun, report: ApplyReport, *, trigger: str) -> int:
    """Store an apply run with each change's outcome."""
    run_id = ctx.store.start_run("apply", trigger)
    details = run_details(run, applied=report.ok)
    summary = {
        **run.plan.summary(),
        "conflicts": len(run.plan.conflicts),
        "pending": len(run.plan.pending),
        "errors": len(run.plan.problems),
        "drift": len(details["drift"]),
        "failed": len(report.failed),
        "not_attempted": report.not_attempted,
        "details": details,
    }
    errors = [str(p) for p in run.plan.problems] + [r.message for r in report.failed]
    if report.stopped:
        errors.append(report.stopped)
    ctx.store.finish_run(run_id, "ok" if report.ok else "failed", summary, errors, report.results)
    if report.ok:
        remember_counts(ctx, run)
    return run_id


def run_details(run: PlanRun, *, applied: bool = False) -> dict[str, Any]:
    """What `crmsync status` shows of a run: open conflicts, pending companies, open drift (after a
    successful apply only the kept edits remain open), deals read per source, warnings, and the
    display names of the companies and features its changes touch."""
    plan = run.plan
    touched = {c.company_id for c in plan.changes} | {c.feature_id for c in plan.changes}
    return {
        "conflicts": [
            {
                "company_id": c.company_id,
                "company": plan.name(c.company_id),
                "feature_id": c.feature_id,
                "feature": plan.name(c.feature_id),
                "override_id": c.live.id,
                "live": c.live.value.describe(),
                "desired": c.desired.value.describe(),
            }
            for c in plan.conflicts
        ],
        "pending": [
            {"company_key": str(p.company), "deals": [f"{s.value} {d}" for s, d in p.deals]} for p in plan.pending
        ],
        "drift": [
            {
                "company_id": d.company_id,
                "company": plan.name(d.company_id),
                "feature_id": d.feature_id,
                "feature": plan.name(d.feature_id),
                "override_id": d.override_id,
                "policy": d.policy.value,
                "action": d.action.value,
                "reason": d.describe(),
            }
            for d in plan.drift
            if not applied or d.action is DriftAction.KEEP
        ],
        "deals": source_deal_counts(run.reads),
        "warnings": list(plan.warnings),
        "names": {ident: plan.name(ident) for ident in sorted(touched)},
    }
