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
    summary = run_summary(run, details=run_details(run))
    ctx.store.finish_run(run_id, status, summary, run_errors(run, reason=reason))
    if command == "apply" and status == "ok":
        remember_counts(ctx, run)  # an apply with nothing to do is a successful apply too
    return run_id


def record_apply(ctx: Context, run: PlanRun, report: ApplyReport, *, trigger: str) -> int:
    """Store an apply run with each change's outcome."""
    run_id = ctx.store.start_run("apply", trigger)
    summary = run_summary(run, report, details=run_details(run, applied=report.ok))
    status = "ok" if report.ok else "failed"
    ctx.store.finish_run(run_id, status, summary, run_errors(run, report), report.results)
    if report.ok:
        remember_counts(ctx, run)
    return run_id


def run_summary(
    run: PlanRun, report: ApplyReport | None = None, *, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The counts `crmsync status` shows of a run: its changes by action; with the `details` of a
    computed plan (`run_details`), its conflicts, pending companies, deal errors and open drift,
    and the details; with an apply's report, the changes that failed or were not attempted."""
    summary: dict[str, Any] = {**run.plan.summary()}
    if details is not None:
        plan = run.plan
        summary |= {
            "conflicts": len(plan.conflicts),
            "pending": len(plan.pending),
            "errors": len(plan.problems),
            "drift": len(details["drift"]),
            "details": details,
        }
    if report is not None:
        summary |= {"failed": len(report.failed), "not_attempted": report.not_attempted}
    return summary


def run_errors(run: PlanRun, report: ApplyReport | None = None, *, reason: str = "") -> list[str]:
    """A run's failures, one line each: why it was refused, the deal errors, the failed changes and
    why the rest were not attempted."""
    errors = ([reason] if reason else []) + [str(p) for p in run.plan.problems]
    if report is not None:
        errors += [r.message for r in report.failed] + ([report.stopped] if report.stopped else [])
    return errors


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
