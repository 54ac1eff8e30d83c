"""What a mapping edit changes: the head and base plans from one read, split into the edit's changes
and those that happen anyway. The one home of that split, for `plan --base` and the console preview.

`edit_plan(ctx, runs, label)` takes the plans `planning.build_plans` made of the head and base mappings
from the same deals and live overrides, splits them with the pure `reconcile/edit.py`, and reads
the plan entitlements of the companies the edit touches for the effective entitlement before → after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crmsync.reconcile.edit import EditSplit, split_edit
from crmsync.reconcile.plan import Plan
from crmsync.service.context import Context, PlanRun
from crmsync.service.entitlements import read_plans
from crmsync.service.planning import PlanRuns


@dataclass(frozen=True)
class EditPlan:
    """The plan of the mappings in force (`head`), the base's, and what the edit between them changes."""

    label: str  # the base as the user named it: a folder or a git ref
    head: PlanRun
    base: PlanRun
    split: EditSplit

    @property
    def edit_plan(self) -> Plan:
        """The edit's changes as a Plan (names and effective entitlements attached), for rendering."""
        return Plan(self.split.edit, names=self.head.plan.names, effects=self.split.edit_effects)

    @property
    def pending_plan(self) -> Plan:
        """What would change without the edit: the base mappings' plan."""
        return self.base.plan

    def to_json(self) -> dict[str, Any]:
        """The head plan's JSON with `base`, `edit_changes` and `pending_changes` (change objects with
        `effective_before` / `effective_after`, like `changes`)."""
        return {
            **self.head.plan.to_json(),
            "base": self.label,
            "edit_changes": self.edit_plan.to_json()["changes"],
            "pending_changes": self.base.plan.to_json()["changes"],
        }


def edit_plan(ctx: Context, runs: PlanRuns, label: str) -> EditPlan:
    """Split the head and base plans of one read into the edit's changes and the pending ones."""
    if runs.base is None:
        raise ValueError("edit_plan needs the plan of the base mappings (build_plans(base=...))")
    head, base = runs.head, runs.base
    now = ctx.clock()
    bare = split_edit(base.plan, head.plan, head.live, {}, now)
    touched = {c.company_id for c in bare.edit}
    plans, _ = read_plans(ctx.schematic, [c for c in head.companies if c.id in touched])
    return EditPlan(label, head, base, split_edit(base.plan, head.plan, head.live, plans, now))
