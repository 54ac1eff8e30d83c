"""Human rendering of plans and apply reports for the terminal (rich).

`+` create, `~` update, `-` delete; then drift (`≠`), conflicts, adoptable overrides, pending
companies, deal errors and warnings; then one summary line. JSON output is `Plan.to_json()`, not here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from crmsync.cli.layout import SYMBOL as SYMBOL  # the symbols explain shows too
from crmsync.cli.layout import note, render_changes
from crmsync.reconcile.notices import MASS_CHANGE, PlanWarning, Refusal, RefusalKind, WarningKind
from crmsync.reconcile.plan import Plan
from crmsync.reconcile.withheld import withheld_count, withheld_lines
from crmsync.safe_text import shown

if TYPE_CHECKING:
    from crmsync.service.apply import ApplyReport


def render_plan(
    console: Console, plan: Plan, reported: Mapping[str, int] | None = None, *, changes: bool = True
) -> None:
    """The plan's changes (one line each, cli/layout.py), its reports and a summary line (`reported`:
    the conflict/pending/error counts a saved plan recorded, which it does not carry itself).
    `changes=False`: the reports and summary only (`plan --base` shows the changes in its own sections)."""
    if not changes:
        pass
    elif plan.changes:
        render_changes(console, plan)
    elif plan.ledger_only():
        records = outside("; ".join(plan.ledger_only()))
        console.print(f"No writes to Schematic; apply only records in crmsync's ledger: {records}", highlight=False)
    elif withheld_count(plan):  # withheld is not "already matches": say so first (reconcile/withheld.py)
        console.print(f"No changes to apply, but {withheld_count(plan)} change(s) are withheld:", highlight=False)
    else:
        console.print("No changes: Schematic already matches the deals.")
    for line in withheld_lines(plan):
        note(console, "‖", "bold yellow", line)
    for d in plan.drift:
        note(console, "≠", "bold yellow", f"drift: {plan.name(d.company_id)} / {plan.name(d.feature_id)}: override "
             f"{d.override_id} {d.describe()}")  # fmt: skip
    for conflict in plan.conflicts:
        note(console, "!", "bold magenta",
             f"conflict: {plan.name(conflict.company_id)} / {plan.name(conflict.feature_id)}: override "
             f"{conflict.live.id} ({conflict.live.value.describe()}) was not created by crmsync and is left "
             f"untouched; the deals want {conflict.desired.value.describe()}")  # fmt: skip
    for c in plan.released:
        note(console, "○", "dim",
             f"released (not managed): {plan.name(c.company_id)} / {plan.name(c.feature_id)}: override "
             f"{c.live.id} ({c.live.value.describe()}) stays as people set it; the deals want "
             f"{c.desired.value.describe()} (crmsync adopt takes it back)", style="dim")  # fmt: skip
    for o in plan.expired:  # named once, on the run they expire (reconcile/diff.newly_expired)
        ended = f" {o.value.expiration:%Y-%m-%d}" if o.value.expiration else ""
        note(console, "⌛", "dim",
             f"expired{ended}: {plan.name(o.company_id)} / {plan.name(o.feature_id)}: override {o.id} "
             f"({o.value.describe()}) has ended; no deal wants it any more and it stays in Schematic, inert",
             style="dim")  # fmt: skip
    for a in plan.adoptions:
        where = f"{plan.name(a.live.company_id)} / {plan.name(a.live.feature_id)}"
        how = (
            "apply adopts it (on_conflict: adopt)"
            if a.auto
            else f"take it over with crmsync adopt --company {a.live.company_id} --feature {a.live.feature_id}"
        )
        note(console, "⇆", "magenta", f"adoptable: {where}: override {a.live.id}: {how}")
    for pending in plan.pending:
        deals = ", ".join(f"{s.value} {d}" for s, d in pending.deals)
        waiting = f"no Schematic company has key {pending.company} yet (deal {deals}); retried next run"
        note(console, "…", "cyan", f"pending: {waiting}")
    here = os.getcwd()  # a rule's file is named relative to where the person runs crmsync, when under it
    for problem in plan.problems:
        note(console, "✗", "bold red", f"error: {problem.describe(here)}")
    for warning in plan.warnings:
        note(console, "warning:", "yellow", warning_text(warning))
    console.print(summary_line(plan, reported), highlight=False)


def summary_line(plan: Plan, reported: Mapping[str, int] | None = None) -> str:
    """`Plan: 7 to create, 0 to update, 0 to delete; 1 conflict, 1 pending, 2 errors.` (ledger-only
    records, when any, are counted after the deletes)."""
    s = plan.summary()
    counts = {"conflicts": len(plan.conflicts), "pending": len(plan.pending), "errors": len(plan.problems)}
    counts |= dict(reported or {})
    extras = [
        count_of(counts["conflicts"], "conflict"),
        count_of(counts["pending"], "pending company", "pending companies"),
        count_of(counts["errors"], "deal error"),
    ] + ([count_of(len(plan.drift), "drift", "drift")] if plan.drift else [])
    records = len(plan.ledger_only())
    changes = f"{s['create']} to create, {s['update']} to update, {s['delete']} to delete"
    changes += f", {records} to record in the ledger" if records else ""
    return f"Plan: {changes}; {', '.join(extras)}."


def render_report(console: Console, report: ApplyReport) -> None:
    """Each change's outcome, failures last with the API's message."""
    done = [r for r in report.results if r.ok]
    for line in report.recorded:
        console.print(f"[green]✓[/] recorded in the ledger: {outside(line)}", highlight=False)
    for result in done:
        console.print(
            f"[green]✓[/] {result.action} {outside(result.company_id)} / {outside(result.feature_id)} → "
            f"{outside(result.override_id)}",
            highlight=False,
        )
    if report.failed:
        console.print(f"[bold red]{len(report.failed)} change(s) failed[/] (retried next run):")
        for result in report.failed:
            console.print(
                f"  ✗ {result.action} {outside(result.company_id)} / {outside(result.feature_id)}: "
                f"{outside(result.message)}",
                highlight=False,
            )
    if report.stopped:
        console.print(f"[bold red]stopped:[/] {outside(report.stopped)}", highlight=False)
    if report.busy:
        console.print(
            f"[bold yellow]busy:[/] {len(report.busy)} company(ies) were being reconciled by another process and "
            f"were skipped: {', '.join(report.busy)}; run apply again",
            highlight=False,
        )
    if report.refused:
        console.print(
            f"[bold red]refused:[/] {len(report.refused)} company(ies) changed since the plan and were not applied: "
            f"{', '.join(report.refused)}; make a new plan",
            highlight=False,
        )
    console.print(f"Applied {len(done)} of {len(report.results) + report.not_attempted} change(s).", highlight=False)


def outside(text: object) -> str:
    """Text from outside in a line printed with markup: control and bidi characters escaped (safe_text.py),
    [brackets] shown as written."""
    return escape(shown(text))


def count_of(n: int, one: str, many: str | None = None) -> str:
    """`1 conflict`, `2 conflicts` (`many`: an irregular plural)."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


FLAG = "--allow-mass-change"


def refusal_text(refusal: Refusal, *, where: str = "") -> str:
    """A refusal in the CLI's words: what refuses, and what a person can do about it here."""
    head = f"refusing to apply{' ' + where if where else ''}: {refusal}"
    if refusal.kind in MASS_CHANGE:
        return f"{head}. Review with crmsync plan, then re-run with {FLAG}."
    if refusal.kind is RefusalKind.DRIFT_FAIL:
        ids = " ".join(refusal.overrides)
        return (
            f"{head}. Put it back by hand, stop managing it with crmsync release {ids}, or set drift: overwrite "
            "(restore) or drift: keep (respect the edit)."
        )
    if refusal.kind is RefusalKind.UNMANAGED:
        return f"{head}; nothing was written. Make a new plan with crmsync plan and review it."
    if refusal.kind is RefusalKind.STALE_PLAN:
        return f"{head}. Make a new plan with crmsync plan --out FILE and review it."
    if refusal.kind is RefusalKind.ALREADY_APPLIED:
        return f"{head}; nothing was written. crmsync status shows that run."
    if refusal.kind is RefusalKind.BEING_APPLIED:
        return f"{head}; nothing was written. Wait for it to finish; crmsync status shows it."
    return head


def refusals_text(refusals: Sequence[Refusal], *, where: str = "") -> list[str]:
    """The refusals in words, the mass-change ones joined in one line as before."""
    mass = [r for r in refusals if r.kind in MASS_CHANGE]
    lines = [refusal_text(r, where=where) for r in refusals if r.kind not in MASS_CHANGE]
    if mass:
        joined = "; and ".join(str(r) for r in mass)
        lines.append(f"refusing to apply: {joined}. Review with crmsync plan, then re-run with {FLAG}.")
    return lines


def warning_text(warning: PlanWarning) -> str:
    """A warning in the CLI's words (a source's withheld deletes name the flag that applies them)."""
    if warning.kind is WarningKind.SOURCE_SHRUNK and warning.withheld:
        return f"{warning}. If the CRM is right, apply them with crmsync apply {FLAG}"
    return str(warning)
