"""The CLI's side of the reconciler guarantees: writing and applying saved plans
(`plan --out`, `apply FILE`), showing guard refusals, and `crmsync status`.

Entry point only: reads and writes the plan file, calls service/saved.py and the store, renders.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from crmsync.app import schematic_context
from crmsync.cli.jsonout import emit
from crmsync.cli.outcome_json import outcome_exit, outcome_json
from crmsync.cli.render import count_of, outside, refusals_text, render_plan, render_report
from crmsync.domain import RunStatus, Trigger
from crmsync.errors import ConfigError
from crmsync.reconcile.withheld import withheld_count
from crmsync.safe_text import shown
from crmsync.service.context import Context, PlanRun
from crmsync.service.reconcile import Mode, Outcome, Request, SavedDocument, reconcile
from crmsync.service.saved import save_plan
from crmsync.settings import Settings
from crmsync.store.repository import Store
from crmsync.store.tables import RunRecord

COUNTS = (  # a run summary's count, and how one is said (with its irregular plural)
    ("conflicts", "conflict", None),
    ("pending", "pending company", "pending companies"),
    ("errors", "deal error", None),
    ("drift", "drift", "drift"),
    ("failed", "failed", "failed"),
    ("not_attempted", "not attempted", "not attempted"),
)
STATUS_COLOUR = {"ok": "green", "failed": "bold red", "refused": "bold red"}


def render_refusals(console: Console, messages: Sequence[str]) -> None:
    """What apply would refuse, shown by `plan` before anyone tries."""
    for message in messages:
        console.print(f"[bold red]apply would refuse this plan:[/] {outside(message)}", highlight=False)


def write_plan(ctx: Context, run: PlanRun, path: Path) -> None:
    """Write the plan file (to a temporary name first, so a half-written file never exists)."""
    text = json.dumps(save_plan(ctx, run), indent=2, sort_keys=True) + "\n"
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:
        raise ConfigError(f"cannot write the plan to {path}: {exc.strerror or type(exc).__name__}") from exc


def read_plan(path: Path) -> Any:
    """The JSON object of a plan file, or a one-line ConfigError."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the plan {path}: {exc.strerror or type(exc).__name__}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path} is not a crmsync plan file: {exc}") from exc


def apply_file(
    console: Console, settings: Settings, path: Path, *, allow_mass_change: bool = False, as_json: bool = False
) -> int:
    """`crmsync apply FILE`: apply exactly the saved plan, once, or refuse with nothing written."""
    doc = read_plan(path)
    shown: list[bool] = []

    reported = saved_counts(doc)

    def review(run: PlanRun, _refusals: object) -> bool:
        if not as_json:
            render_plan(console, run.plan, reported)
            shown.append(True)
        return True  # a saved plan was reviewed when it was made

    with schematic_context(settings) as ctx:
        request = Request(
            Trigger.SAVED_PLAN,
            Mode.APPLY_SAVED,
            saved=SavedDocument(doc, str(path)),
            allow_mass_change=allow_mass_change,
            lock_wait=settings.locks.wait_seconds,
        )
        outcome = reconcile(ctx, None, request, review)
    if as_json:
        emit(outcome_json(outcome, where=str(path)))
        return outcome_exit(outcome)
    if not shown and outcome.run is not None and not outcome.refused:
        render_plan(console, outcome.run.plan, reported)
    return apply_exit(console, Console(stderr=True, highlight=False, soft_wrap=True), outcome, where=str(path))


def saved_counts(doc: Any) -> dict[str, int]:
    """The conflicts, pending companies and deal errors a saved plan recorded (its summary line shows
    them; the plan applied carries only its changes)."""
    if not isinstance(doc, dict):
        return {}
    return {k: len(v) for k in ("conflicts", "pending", "errors") if isinstance(v := doc.get(k), list)}


def apply_exit(console: Console, errors: Console, outcome: Outcome, *, where: str = "") -> int:
    """Word an apply's outcome; its exit code: 0 all applied, 1 a change failed or companies were busy,
    3 refused (nothing written for what was refused) or a guard withheld changes."""
    if outcome.status is RunStatus.REFUSED and outcome.report is None:
        for line in refusals_text(outcome.refusals, where=where):
            errors.print(f"crmsync: {shown(line)}", markup=False)
        return 3
    if outcome.status is RunStatus.DECLINED:
        console.print("Nothing applied.")
        return 1
    withheld = withheld_count(outcome.run.plan) if outcome.run is not None else 0
    if withheld:  # applied what was safe, but a cron or CI must notice what a guard held back: exit 3
        errors.print(
            f"crmsync: {withheld} change(s) withheld by the guards (see above); review with crmsync plan, then "
            "apply them with --allow-mass-change",
            markup=False,
        )
    if outcome.report is None:
        return 3 if withheld else 0
    render_report(console, outcome.report)
    if outcome.replanned:
        console.print(
            f"{len(outcome.replanned)} company(ies) had changed since the plan (another run was applying them) and "
            "were planned again from fresh reads under their lease.",
            highlight=False,
        )
    if outcome.status is RunStatus.REFUSED or (withheld and outcome.status is RunStatus.OK):
        return 3
    return 0 if outcome.status is RunStatus.OK else 1


def show_status(console: Console, store: Store, *, as_json: bool, limit: int = 20) -> int:
    """`crmsync status`: recent runs, open conflicts and pending companies, the last apply's results."""
    runs = store.runs(limit)
    latest = next((r for r in runs if _details(r) is not None), None)  # a saved-plan apply has none
    details = _details(latest) or {}
    last_apply = store.last_run(("apply",), ("ok", "failed", "busy", "interrupted"))
    results = store.run_changes(last_apply.id) if last_apply and last_apply.id else []
    if as_json:
        doc = {
            "runs": [_run_json(r) for r in runs],
            "conflicts": details.get("conflicts", []),
            "pending": details.get("pending", []),
            "drift": details.get("drift", []),
            "omitted": details.get("omitted", {}),  # beyond the first 100 of each list, counted
            "as_of_run": latest.id if latest else None,
            "last_apply": None
            if last_apply is None
            else {**_run_json(last_apply), "changes": [asdict(c) for c in results]},
        }
        emit(doc)
        return 0
    if not runs:
        console.print("No runs yet.")
        return 0
    _render_runs(console, runs)
    _render_open(console, latest, details)
    if last_apply is not None:
        summary = json.loads(last_apply.summary_json)
        names = (_details(last_apply) or {}).get("names") or summary.get("names") or {}
        console.print(f"\nLast apply (#{last_apply.id}, {_when(last_apply.started_at)}):", highlight=False)
        for c in results:
            mark = "[green]✓[/]" if c.ok else "[bold red]✗[/]"
            what = f"{c.action} {names.get(c.company_id, c.company_id)} / {names.get(c.feature_id, c.feature_id)}"
            said = f"{what}: {c.message}" if c.message else what
            console.print(f"  {mark} {outside(said)}", highlight=False)
        if not results:
            console.print("  no changes", highlight=False)
    return 0


def _render_runs(console: Console, runs: Sequence[RunRecord]) -> None:
    """One line per run, newest first; a run that did not end well lists its first failures."""
    console.print("Recent runs (newest first):")
    for r in runs:
        errors: list[str] = json.loads(r.errors_json)
        ended = f" → {r.finished_at:%H:%M:%S}" if r.finished_at else " (not finished)"
        colour = STATUS_COLOUR.get(r.status, "yellow")
        console.print(
            f"  #{r.id} {r.command} ({r.trigger}{f', by {r.actor}' if r.actor else ''}) "
            f"{_when(r.started_at)}{ended} [{colour}]{r.status}[/]: "
            f"{_counts(json.loads(r.summary_json))}",
            highlight=False,
        )
        if r.status != "ok":
            for error in errors[:3]:
                console.print(f"      ✗ {shown(error)}", highlight=False, markup=False)
            if len(errors) > 3:
                console.print(f"      … and {len(errors) - 3} more (crmsync status --json)", highlight=False)


def _counts(summary: dict[str, Any]) -> str:
    """`13 create, 6 delete; 1 conflict, 1 pending, 2 deal errors`, zeros left out."""
    changes = ", ".join(f"{summary[k]} {k}" for k in ("create", "update", "delete") if summary.get(k))
    reports = ", ".join(count_of(n, one, many) for key, one, many in COUNTS if (n := summary.get(key)))
    return "; ".join(part for part in (changes or "no changes", reports) if part)


def _render_open(console: Console, run: RunRecord | None, details: dict[str, Any]) -> None:
    conflicts, pending, drift = details.get("conflicts", []), details.get("pending", []), details.get("drift", [])
    if run is None or not (conflicts or pending or drift):
        return
    console.print(f"\nOpen as of run #{run.id}:", highlight=False)
    for c in conflicts:
        said = (
            f"{c['company']} / {c['feature']}: override {c['override_id']} ({c['live']}) was not created by "
            f"crmsync; the deals want {c['desired']}"
        )
        console.print(f"  [bold magenta]![/] conflict: {outside(said)}", highlight=False)
    for d in drift:
        said = f"{d['company']} / {d['feature']}: override {d['override_id']} {d['reason']}"
        console.print(f"  [bold yellow]≠[/] drift: {outside(said)}", highlight=False)
    for p in pending:
        deals = ", ".join(p["deals"])
        said = f"no Schematic company has key {p['company_key']} yet (deal {deals})"
        console.print(f"  [cyan]…[/] pending: {outside(said)}", highlight=False)
    omitted = {k: n for k, n in details.get("omitted", {}).items() if k in ("conflicts", "drift", "pending")}
    if omitted:  # the run kept a count and the first of each list (service/history.py)
        more = ", ".join(f"{n} {kind}" for kind, n in omitted.items())
        console.print(f"  … and {more} more (crmsync plan lists them all)", highlight=False)


def _details(run: RunRecord | None) -> dict[str, Any] | None:
    if run is None:
        return None
    details = json.loads(run.summary_json).get("details")
    return details if isinstance(details, dict) else None


def _run_json(run: RunRecord) -> dict[str, Any]:
    summary = json.loads(run.summary_json)
    return {
        "id": run.id,
        "command": run.command,
        "trigger": run.trigger,
        "actor": run.actor,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "status": run.status,
        "counts": {k: v for k, v in summary.items() if isinstance(v, int)},
        "failures": json.loads(run.errors_json),
    }


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""
