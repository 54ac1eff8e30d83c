"""The guards around every apply: refuse an unsafe plan (mass change, or drift under `drift:
fail`) before anything is written, and remember each source's deal count after a successful
apply (the baseline build_plan compares the next read with). Called by apply_plan (the only
writer), the CLI and the run history.
"""

from __future__ import annotations

from collections.abc import Collection

from crmsync.errors import UnsafePlanError
from crmsync.reconcile.guards import Refusal, baseline_counts, check_guards, drift_refusal, refusal_message
from crmsync.service.sync import Context, PlanRun, source_deal_counts
from crmsync.store.repository import Owned


def owned_count(owned: Collection[Owned]) -> int:
    """How many overrides crmsync owns and knows the id of (the guards' denominator)."""
    return sum(1 for o in owned if o.status == "active" and o.override_id)


def refusals(ctx: Context, run: PlanRun) -> list[Refusal]:
    """The guards this plan trips under the context's policy (none with --allow-mass-change)."""
    return check_guards(run.plan, owned_count(run.owned), ctx.guards)


def refusal_messages(ctx: Context, run: PlanRun) -> list[str]:
    """Why apply would refuse this plan: drift under `drift: fail`, then the tripped guards."""
    found = refusals(ctx, run)
    drift = drift_refusal(run.plan)
    return ([drift] if drift else []) + ([refusal_message(found)] if found else [])


def raise_if_unsafe(ctx: Context, run: PlanRun) -> None:
    """UnsafePlanError (exit 3) naming what refuses it and what to do; nothing written."""
    messages = refusal_messages(ctx, run)
    if messages:
        raise UnsafePlanError(" ".join(messages))


def remember_counts(ctx: Context, run: PlanRun) -> None:
    """After a successful apply: each complete, unshrunk source's deal count is the new baseline."""
    if run.scope is not None:  # a scoped read is no baseline for a whole CRM
        return
    counts = baseline_counts(source_deal_counts(run.reads), ctx.store.source_counts(), ctx.guards)
    if counts:
        ctx.store.save_source_counts(counts)
