"""Run history: every plan and apply is stored with its counts, per-change results and
errors, for `crmsync status`. Called by the entry points after a run.
"""

from __future__ import annotations

from crmsync.service.apply import ApplyReport
from crmsync.service.sync import Context, PlanRun


def record_plan(ctx: Context, run: PlanRun, *, trigger: str, command: str = "plan", status: str = "ok") -> int:
    """Store a run that computed a plan and wrote nothing."""
    run_id = ctx.store.start_run(command, trigger)
    summary = {
        **run.plan.summary(),
        "conflicts": len(run.plan.conflicts),
        "pending": len(run.plan.pending),
        "errors": len(run.plan.problems),
    }
    ctx.store.finish_run(run_id, status, summary, [str(p) for p in run.plan.problems])
    return run_id


def record_apply(ctx: Context, run: PlanRun, report: ApplyReport, *, trigger: str) -> int:
    """Store an apply run with each change's outcome."""
    run_id = ctx.store.start_run("apply", trigger)
    summary = {
        **run.plan.summary(),
        "conflicts": len(run.plan.conflicts),
        "pending": len(run.plan.pending),
        "errors": len(run.plan.problems),
        "failed": len(report.failed),
        "not_attempted": report.not_attempted,
    }
    errors = [str(p) for p in run.plan.problems] + [r.message for r in report.failed]
    if report.stopped:
        errors.append(report.stopped)
    ctx.store.finish_run(run_id, "ok" if report.ok else "failed", summary, errors, report.results)
    return run_id
