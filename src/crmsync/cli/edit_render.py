"""`crmsync plan --base`: the edit's changes and the pending ones, under two headings, for the terminal.

Called by the plan command with the `EditPlan` the service made; each edit change shows what the
customer can use before → after. The reports (conflicts, warnings, …) and the summary of the head
plan follow, as in a plain `plan`. JSON is `EditPlan.to_json()`, not here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from crmsync.cli.layout import render_changes
from crmsync.cli.render import render_plan
from crmsync.safe_text import shown

if TYPE_CHECKING:
    from rich.console import Console

    from crmsync.reconcile.plan import Plan
    from crmsync.service.edit import EditPlan


def render_edit(console: Console, edit: EditPlan, folder: str) -> None:
    """This edit (base → head), then what changes without it, then the head plan's reports and summary."""
    head = f"This edit ({shown(edit.label)} → {shown(folder)}): {_count(len(edit.split.edit))}"
    console.print(Text(head, style="bold"), highlight=False, crop=False)
    _section(console, edit.edit_plan, "  none: both mapping sets want the same overrides")
    console.print("")
    pending = f"Not from this edit (pending CRM changes, made with or without it): {_count(len(edit.split.pending))}"
    console.print(Text(pending, style="bold"), highlight=False, crop=False)
    _section(console, edit.pending_plan, "  none: Schematic already matches the deals under the base mappings")
    console.print("")
    render_plan(console, edit.head.plan, changes=False)


def _section(console: Console, plan: Plan, empty: str) -> None:
    """A plan's changes with what the customer can use before → after under each, or `empty`."""
    if not plan.changes:
        console.print(empty, highlight=False, crop=False)
        return
    render_changes(console, plan, use=True)


def _count(n: int) -> str:
    return f"{n} change" if n == 1 else f"{n} changes"
