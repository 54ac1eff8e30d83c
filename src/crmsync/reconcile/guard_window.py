"""The mass-change guard over a window: every run's deletes and downgrades in the last hour (by
default) count together, so scoped runs one company at a time cannot add up to what one full run
would be refused. Pure.

The service reads what the window has spent (store/guard_window.py) and all owned overrides, calls
`window_refusals`, and when it trips, `withhold_affected` holds this plan's deletes and downgrades as a
whole (a GUARD_WINDOW warning: they wait for an approved run, e.g. `apply --allow-mass-change`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from crmsync.domain import Action, Change
from crmsync.reconcile.guards import GuardPolicy, affected, is_downgrade, judge
from crmsync.reconcile.notices import PlanWarning, Refusal, WarningKind
from crmsync.reconcile.plan import Plan


@dataclass(frozen=True)
class Spent:
    """Deletes and downgrades made (or reserved by runs under way) within the window."""

    deletes: int = 0
    downgrades: int = 0

    @property
    def total(self) -> int:
        """Everything taken away within the window."""
        return self.deletes + self.downgrades


def counts(changes: list[Change]) -> Spent:
    """The deletes and downgrades among `changes`."""
    deletes = sum(1 for c in changes if c.action is Action.DELETE)
    return Spent(deletes, sum(1 for c in changes if is_downgrade(c)))


def window_refusals(plan: Plan, spent: Spent, owned_now: int, policy: GuardPolicy) -> list[Refusal]:
    """The guard's refusals for this plan together with the window's earlier changes, judged against
    the overrides owned when the window began (those owned now plus those the window deleted)."""
    if policy.allow_mass_change or policy.window_seconds <= 0:
        return []
    mine = len(affected(plan))
    if not mine:
        return []
    return judge(spent.total + mine, owned_now + spent.deletes, policy, per="per window")


def withhold_affected(plan: Plan, refusals: list[Refusal], spent: Spent, policy: GuardPolicy) -> Plan:
    """The plan without its deletes and downgrades (held as a whole), and a warning saying why."""
    held = affected(plan)
    mine = counts(held)
    hours = policy.window_seconds / 3600
    window = f"{hours:g} hour(s)" if hours >= 1 else f"{policy.window_seconds:g} s"
    why = "; ".join(r.message for r in refusals)
    message = (
        f"{mine.total} deletion(s)/downgrade(s) withheld: with the {spent.total} made in the last {window}, "
        f"{why}; they wait for an approved run"
    )
    withheld = {k: n for k, n in (("delete", mine.deletes), ("downgrade", mine.downgrades)) if n}
    warning = PlanWarning(WarningKind.GUARD_WINDOW, message, None, withheld)
    ids = {id(c) for c in held}
    kept = tuple(c for c in plan.changes if id(c) not in ids)
    return replace(plan, changes=kept, warnings=(*plan.warnings, warning))
