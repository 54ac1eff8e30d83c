"""Saved plans: encode a computed plan for `crmsync plan --out`, and apply exactly a saved one.

Before applying, the live overrides at every company and feature the plan changes or adopts are read
again and compared with what the plan was computed from; any difference refuses the whole
plan (UnsafePlanError, nothing written). The guards of apply_plan still apply. Called by the CLI,
which reads and writes the file.
"""

from __future__ import annotations

from typing import Any

from crmsync.errors import UnsafePlanError
from crmsync.mapping.translate import Translation
from crmsync.reconcile.guards import baseline_counts
from crmsync.reconcile.planfile import SavedPlan, decode, encode, stale, watched
from crmsync.service.apply import ApplyReport, apply_plan
from crmsync.service.history import run_errors, run_summary
from crmsync.service.sync import Context, PlanRun, source_deal_counts

COMMAND = "apply"
TRIGGER = "saved-plan"


def save_plan(ctx: Context, run: PlanRun) -> dict[str, Any]:
    """The JSON object of a plan file for this run."""
    deals = baseline_counts(source_deal_counts(run.reads), run.baseline, ctx.guards)
    return encode(run.plan, run.live, intents=run.found_intents, deals=deals, created_at=ctx.clock())


def load_plan(ctx: Context, doc: Any, where: str) -> tuple[PlanRun, SavedPlan]:
    """Decode a plan file and check Schematic still holds what it was computed from."""
    saved = decode(doc, where)
    companies = sorted({company for company, _ in watched(saved.plan)})
    now = ctx.schematic.list_overrides(companies) if companies else []
    problems = stale(saved, now)
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise UnsafePlanError(
            f"refusing to apply {where}: Schematic changed since the plan was made at {saved.created_at}: {shown}. "
            f"Make a new plan with crmsync plan --out {where} and review it"
        )
    owned = tuple(ctx.store.owned())
    tokens = {o.token for o in owned}
    intents = {token: ident for token, ident in saved.intents.items() if token in tokens}
    return PlanRun(saved.plan, (), Translation((), (), ()), tuple(now), owned, intents), saved


def apply_saved(ctx: Context, run: PlanRun, saved: SavedPlan) -> ApplyReport:
    """Apply exactly the saved plan (guards included) and record the run."""
    report = apply_plan(ctx, run)
    summary = {
        **run_summary(run, report),  # a saved plan holds no conflicts, pending companies or deal errors
        "plan_checksum": run.plan.checksum(),
        "names": dict(run.plan.names),  # for `crmsync status`: a saved run has no other details
    }
    record_saved(ctx, "ok" if report.ok else "failed", summary, run_errors(run, report), report)
    if report.ok and saved.deals:
        ctx.store.save_source_counts(dict(saved.deals))
    return report


def record_saved(
    ctx: Context, status: str, summary: dict[str, Any], errors: list[str], report: ApplyReport | None = None
) -> None:
    """Store a saved-plan apply (or its refusal) in the run history."""
    run_id = ctx.store.start_run(COMMAND, TRIGGER)
    ctx.store.finish_run(run_id, status, summary, errors, report.results if report else ())
