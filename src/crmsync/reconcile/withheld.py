"""What the guards withheld from a plan, counted and worded, so that a plan whose every change was
withheld never reads as "no changes". Pure.

The CLI calls `withheld_lines` under the plan, makes `plan --detailed-exitcode` answer 2 and
`apply` exit 3 when `withheld_count` is above zero (a cron or CI run notices).
"""

from __future__ import annotations

from collections.abc import Iterable

from crmsync.reconcile.notices import PlanWarning, WarningKind
from crmsync.reconcile.plan import Plan

GUARD_NAMES = {
    WarningKind.SOURCE_SHRUNK: "the shrink guard",
    WarningKind.PARTIAL_READ: "the partial-read guard",
    WarningKind.GUARD_WINDOW: "the mass-change guard (its window)",
}


def _withholding(warnings: Iterable[PlanWarning]) -> list[tuple[PlanWarning, int]]:
    """The guard warnings that withheld something, each with how many changes."""
    counted = [(w, sum(n for n in w.withheld.values())) for w in warnings if w.kind in GUARD_NAMES]
    return [(w, n) for w, n in counted if n > 0]


def withheld_count(plan: Plan) -> int:
    """How many changes (deletes and downgrades) the guards took out of the plan."""
    return sum(n for _, n in _withholding(plan.warnings))


def withheld_lines(plan: Plan) -> list[str]:
    """`N change(s) withheld by the shrink guard: <why>`, one per withholding warning."""
    return [f"{n} change(s) withheld by {GUARD_NAMES[w.kind]}: {w.message}" for w, n in _withholding(plan.warnings)]
