"""The guards around every apply: refuse an unsafe plan (mass change, or drift under `drift:
fail`) or one that would write what crmsync no longer manages (the ledger moved since the plan
was made) before anything is written, and remember each source's deal count after a successful
apply (the baseline build_plan compares the next read with). Called by the reconcile use case.
Refusals are data (reconcile/notices.py); the entry points word them.
"""

from __future__ import annotations

from collections.abc import Collection

from crmsync.domain import Action, LedgerState
from crmsync.reconcile.drift import DriftAction
from crmsync.reconcile.guards import baseline_counts, check_guards, drift_refusal
from crmsync.reconcile.notices import Refusal, RefusalKind
from crmsync.service.context import Context, PlanRun
from crmsync.service.ledger import ledger_refusals
from crmsync.service.ownership import held_keys
from crmsync.service.reading import source_deal_counts
from crmsync.store.repository import Owned

CLOSES_ROW = (DriftAction.RECREATE, DriftAction.FORGET)  # drift whose ledger row apply closes


def owned_count(owned: Collection[Owned]) -> int:
    """How many overrides crmsync owns and knows the id of (the guards' denominator)."""
    return sum(1 for o in owned if o.status == LedgerState.ACTIVE and o.override_id)


def refusals(ctx: Context, run: PlanRun, owned: Collection[Owned] | None = None) -> list[Refusal]:
    """Why apply would refuse this plan: a read-only state database or an empty ledger facing crmsync's
    marked overrides, drift under `drift: fail`, then the tripped guards (none of those when the policy
    allows a mass change). `owned`: the guard's denominator (default the plan's)."""
    drift = drift_refusal(run.plan)
    found = check_guards(run.plan, owned_count(run.owned if owned is None else owned), ctx.guards)
    return ledger_refusals(ctx, run) + ([drift] if drift else []) + found


def remember_counts(ctx: Context, run: PlanRun) -> None:
    """After a successful apply: each complete, unshrunk source's deal count is the new baseline."""
    if run.scope is not None:  # a scoped read is no baseline for a whole CRM
        return
    counts = baseline_counts(source_deal_counts(run.reads), ctx.store.source_counts(), ctx.guards)
    if counts:
        ctx.store.save_source_counts(counts)


def unmanaged(run: PlanRun, owned: Collection[Owned], released: Collection[Owned]) -> list[str]:
    """What the plan would write or record that the ledger (`owned`, `released`: read now) no
    longer lets crmsync touch: an override no longer active (released, deleted) that it updates,
    deletes or closes, a released pair it creates, a released override it adopts. One line each."""
    plan, gone = run.plan, {r.override_id for r in released if r.override_id}
    held = held_keys(released, owned)
    intents = {o.token for o in owned if o.status == LedgerState.INTENT}
    allowed = {o.override_id for o in owned if o.status == LedgerState.ACTIVE and o.override_id}
    allowed |= {ident for token, ident in run.found_intents.items() if token in intents}
    allowed |= {a.live.id for a in plan.adoptions if a.auto and a.key not in held and a.live.id not in gone}
    touched = [(c.before.id, (c.company_id, c.feature_id)) for c in plan.changes if c.before is not None]
    touched += [(d.override_id, d.key) for d in plan.drift if d.action in CLOSES_ROW]
    touched += [(a.live.id, a.key) for a in plan.adoptions if a.auto]
    lines = [
        f"override {ident} ({plan.name(c)} / {plan.name(f)}): "
        + ("it was released" if ident in gone else "it is no longer active in its ledger")
        for ident, (c, f) in dict.fromkeys(touched)
        if ident not in allowed
    ]
    lines += [
        f"{plan.name(c.company_id)} / {plan.name(c.feature_id)}: the pair was released (not created again)"
        for c in plan.changes
        if c.action is Action.CREATE and (c.company_id, c.feature_id) in held
    ]
    return lines


def unmanaged_refusal(ctx: Context, run: PlanRun) -> Refusal | None:
    """Re-read the ledger: a refusal when the plan would write what crmsync no longer manages, e.g.
    an override released between the plan and the apply."""
    lines = unmanaged(run, ctx.store.owned(), ctx.store.released())
    if not lines:
        return None
    return Refusal(
        RefusalKind.UNMANAGED,
        f"crmsync no longer manages {'; '.join(lines)} (its ledger changed since the plan was made)",
        affected=len(lines),
    )
