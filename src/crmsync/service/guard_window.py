"""The mass-change guard across runs: before an apply writes, its deletes and downgrades are added to
the window's (every run of the last hour, any process or replica: store/guard_window.py); when the
total trips the guard, this run's deletes and downgrades are withheld as a whole and the rest applies.

Called by the reconcile use case: `preview` for a plan, `reserve` before an apply writes, `settle`
after it; `judge_reload` by serve's mapping watch before an edit takes effect. A run a person allowed
(`--allow-mass-change`, an approval) is neither judged nor counted: it does not use up the budget.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from crmsync.domain import Action, Change
from crmsync.mapping.rules import Mappings
from crmsync.reconcile.guard_window import window_refusals, withhold_affected
from crmsync.reconcile.guards import affected, check_guards
from crmsync.service.apply import ApplyReport
from crmsync.service.context import Context, PlanRun
from crmsync.service.planning import build_plan
from crmsync.service.safety import owned_count
from crmsync.store.guard_window import GuardWindow, Pair


@dataclass(frozen=True)
class Reservation:
    """This run's booking in the window, settled after the apply."""

    booking: str
    window: GuardWindow


def pairs(changes: list[Change]) -> list[Pair]:
    """The (company, feature, kind) each delete or downgrade takes away."""
    return [(c.company_id, c.feature_id, "delete" if c.action is Action.DELETE else "downgrade") for c in changes]


def _judged(ctx: Context) -> bool:
    policy = ctx.guards
    return not policy.allow_mass_change and policy.window_seconds > 0 and not ctx.store.readonly


def preview(ctx: Context, run: PlanRun) -> PlanRun:
    """The plan as an apply now would make it: its deletes and downgrades withheld when, with the
    window's, they trip the guard (reads only)."""
    taken = affected(run.plan)
    if not _judged(ctx) or not taken:
        return run
    spent = GuardWindow(ctx.store.engine).spent(ctx.guards.window_seconds, excluding=pairs(taken))
    found = window_refusals(run.plan, spent, owned_count(run.owned), ctx.guards)
    return replace(run, plan=withhold_affected(run.plan, found, spent, ctx.guards)) if found else run


def reserve(ctx: Context, run: PlanRun, run_id: int) -> tuple[PlanRun, Reservation | None]:
    """Book this run's deletes and downgrades in the window, or withhold them all when the total would
    trip the guard (judged in the same transaction that books them, so replicas cannot overspend)."""
    taken = affected(run.plan)
    if not _judged(ctx) or not taken:
        return run, None
    book, policy, owned = GuardWindow(ctx.store.engine), ctx.guards, owned_count(run.owned)
    booking, spent = book.book(
        run_id, pairs(taken), policy.window_seconds, lambda spent: not window_refusals(run.plan, spent, owned, policy)
    )
    if booking is not None:
        return run, Reservation(booking, book)
    found = window_refusals(run.plan, spent, owned, policy)
    return replace(run, plan=withhold_affected(run.plan, found, spent, policy)), None


def settle(reservation: Reservation | None, run: PlanRun, report: ApplyReport) -> None:
    """The booking keeps what the run made: the deletes that succeeded, and the planned downgrades written."""
    if reservation is None:
        return
    downgrades = {(c.company_id, c.feature_id) for c in affected(run.plan) if c.action is Action.UPDATE}
    made: list[Pair] = []
    for result in (r for r in report.results if r.ok):
        if result.action == Action.DELETE.value:
            made.append((result.company_id, result.feature_id, "delete"))
        elif result.action == Action.UPDATE.value and (result.company_id, result.feature_id) in downgrades:
            made.append((result.company_id, result.feature_id, "downgrade"))
    reservation.window.settle(reservation.booking, made)


def judge_reload(ctx: Context, mappings: Mappings) -> str | None:
    """Why putting `mappings` in force must wait for approval: a full plan with them (reads only)
    deletes or downgrades more than the guards allow, alone or with the window's. None: it may."""
    run = build_plan(ctx, mappings)
    owned = owned_count(run.owned)
    found = check_guards(run.plan, owned, ctx.guards)
    if not found and _judged(ctx):
        spent = GuardWindow(ctx.store.engine).spent(ctx.guards.window_seconds, excluding=pairs(affected(run.plan)))
        found = window_refusals(run.plan, spent, owned, ctx.guards)
    return "; ".join(r.message for r in found) or None
