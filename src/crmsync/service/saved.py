"""Saved plans: encode a computed plan for `crmsync plan --out`, and load a saved one to apply.

Before applying, the live overrides at every company and feature the plan changes or adopts are read
again and compared with what the plan was computed from; any difference refuses the whole
plan (UnsafePlanError, nothing written). The reconcile use case (service/reconcile.py) applies it,
guards included; the CLI reads and writes the file.
"""

from __future__ import annotations

from typing import Any

from crmsync.errors import UnsafePlanError
from crmsync.mapping.translate import Translation
from crmsync.reconcile.guards import baseline_counts
from crmsync.reconcile.planfile import SavedPlan, encode, stale, watched
from crmsync.service.context import Context, PlanRun
from crmsync.service.reading import source_deal_counts


def save_plan(ctx: Context, run: PlanRun) -> dict[str, Any]:
    """The JSON object of a plan file for this run."""
    deals = baseline_counts(source_deal_counts(run.reads), run.baseline, ctx.guards)
    return encode(run.plan, run.live, intents=run.found_intents, deals=deals, created_at=ctx.clock())


def load_plan(ctx: Context, saved: SavedPlan) -> tuple[PlanRun, SavedPlan]:
    """Check Schematic still holds what a decoded plan file was computed from (UnsafePlanError when
    not); the plan as a run to apply."""
    companies = sorted({company for company, _ in watched(saved.plan)})
    now = ctx.schematic.list_overrides(companies) if companies else []
    problems = stale(saved, now)
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise UnsafePlanError(f"Schematic changed since the plan was made at {saved.created_at}: {shown}")
    owned = tuple(ctx.store.owned())
    tokens = {o.token for o in owned}
    intents = {token: ident for token, ident in saved.intents.items() if token in tokens}
    return PlanRun(saved.plan, (), Translation((), (), ()), tuple(now), owned, intents), saved
