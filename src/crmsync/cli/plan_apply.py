"""`crmsync plan` and `crmsync apply`: the main job at a terminal, in CI or from a saved plan file.

`register(app, guarded, out, err)` adds both to the main typer app (cli/__init__.py); the work is
`service.reconcile`, rendered by cli/render.py, cli/edit_render.py, cli/markdown.py and cli/runs.py.
Exit codes: 0 ok, 1 failure (or a warning with --fail-on-warning), 2 changes (--detailed-exitcode), 3 refused.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crmsync.cli.db import database_line
from crmsync.cli.jsonout import emit
from crmsync.cli.lazy import base_context, mapped_context
from crmsync.cli.options import CompaniesOption, ExitGuard, JsonOption, MappingsOption

if TYPE_CHECKING:
    from rich.console import Console

    from crmsync.service.context import PlanRun

READING = "Reading deals and live overrides…"


def register(app: typer.Typer, guarded: ExitGuard, out: Console, err: Console) -> None:
    """Add `plan` and `apply` to the app; `guarded` turns crmsync errors into exit codes, `err` is stderr."""

    @app.command()
    def plan(
        mappings: MappingsOption = None,
        companies: CompaniesOption = None,
        as_json: JsonOption = False,
        fail_on_warning: Annotated[
            bool, typer.Option("--fail-on-warning", help="Exit 1 when the plan has any warning (for CI).")
        ] = False,
        out_file: Annotated[
            Path | None,
            typer.Option("--out", help="Also save the plan to FILE: `crmsync apply FILE` applies exactly it."),
        ] = None,
        detailed_exitcode: Annotated[
            bool,
            typer.Option(
                "--detailed-exitcode", help="Exit 0 with no changes, 2 with changes (or withheld ones), 1 on any error."
            ),
        ] = False,
        output_format: Annotated[
            str,
            typer.Option(
                "--format",
                metavar="text|json|markdown",
                help="text (default), json (same as --json), or markdown: "
                "a pull-request comment that fits GitHub's limit.",
            ),
        ] = "text",
        base: Annotated[
            str | None,
            typer.Option(
                "--base",
                metavar="DIR_OR_GIT_REF",
                help="Also plan these mappings (a folder, or the mapping folder at a git ref, read without checkout) "
                "from the same read, and show what the edit from them changes apart from pending CRM changes.",
            ),
        ] = None,
    ) -> None:
        """Show what apply would change, without writing anything."""
        if output_format not in ("text", "json", "markdown"):
            raise typer.BadParameter(f"'{output_format}' is not text, json or markdown", param_hint="--format")
        as_json = as_json or output_format == "json"
        as_markdown = output_format == "markdown"

        def body() -> int:
            from crmsync.cli import session
            from crmsync.cli.edit_render import render_edit
            from crmsync.cli.progress import working
            from crmsync.cli.render import refusal_text, refusals_text, render_plan
            from crmsync.cli.runs import render_refusals, write_plan
            from crmsync.domain import Trigger
            from crmsync.reconcile.withheld import withheld_count
            from crmsync.service.reconcile import BaseMappings, Mode, Request, reconcile
            from crmsync.service.scope import resolve_scope

            machine = as_json or as_markdown  # stdout holds only the document; the rest goes to stderr
            folder = mappings or session.settings().mappings
            opened = mapped_context(mappings) if base is None else base_context(mappings, base)
            with opened as (ctx, maps, *older), working(err, READING, quiet=machine):
                against = BaseMappings(older[0], base) if base is not None else None
                request = Request(Trigger.MANUAL, Mode.PLAN, scope=resolve_scope(ctx, companies), base=against)
                outcome = reconcile(ctx, maps, request)
                run = outcome.run
                assert run is not None
                (err if machine else out).print(database_line(ctx.store), markup=False)
                if out_file is not None:
                    write_plan(ctx, run, out_file)
            refusals = [{**r.to_json(), "message": refusal_text(r)} for r in outcome.refusals]
            plan_doc = outcome.edit.to_json() if outcome.edit is not None else run.plan.to_json()  # --base: + the split
            document = {**plan_doc, "refusals": refusals, "withheld": withheld_count(run.plan)}
            if as_json:
                emit({**document, "run_id": outcome.run_id, "actor": outcome.actor or None})
            elif as_markdown:
                from crmsync.cli.markdown import plan_markdown

                sys.stdout.write(plan_markdown(document, root=os.getcwd()))
            elif outcome.edit is not None:
                render_edit(out, outcome.edit, str(folder))
                render_refusals(out, refusals_text(outcome.refusals))
            else:
                render_plan(out, run.plan)
                render_refusals(out, refusals_text(outcome.refusals))
            if out_file is not None:
                saved = f"Saved the plan to {out_file}; apply exactly it with: crmsync apply {out_file}"
                (err if machine else out).print(saved, markup=False)
            if detailed_exitcode and not (fail_on_warning and run.plan.warnings):
                return 0 if run.plan.is_empty and not withheld_count(run.plan) else 2  # withheld is a change too
            return 1 if fail_on_warning and run.plan.warnings else 0

        guarded(body, error_code=1 if detailed_exitcode else None)

    @app.command()
    def apply(
        plan_file: Annotated[
            Path | None,
            typer.Argument(
                metavar="FILE", help="A plan saved by `crmsync plan --out`: applied exactly, without asking."
            ),
        ] = None,
        mappings: MappingsOption = None,
        companies: CompaniesOption = None,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print one JSON object (the plan, each change's result); needs --yes.")
        ] = False,
        allow_mass_change: Annotated[
            bool,
            typer.Option(
                "--allow-mass-change",
                help="This run only: apply even if a blast-radius guard refuses, "
                "and the deletes a shrunk CRM withholds.",
            ),
        ] = False,
    ) -> None:
        """Show the plan, then apply it. Exit 0 only if every change succeeded; 3 if a guard refused."""

        def body() -> int:
            from crmsync.cli import session
            from crmsync.cli.outcome_json import outcome_exit, outcome_json
            from crmsync.cli.progress import working
            from crmsync.cli.render import render_plan
            from crmsync.cli.runs import apply_exit, apply_file
            from crmsync.domain import Trigger
            from crmsync.errors import ConfigError
            from crmsync.service.reconcile import Mode, Request, reconcile
            from crmsync.service.scope import resolve_scope

            settings = session.settings()
            if plan_file is not None:
                if mappings is not None or companies:
                    raise ConfigError("a saved plan is applied as is: drop --mappings and --company, or plan again")
                return apply_file(out, settings, plan_file, allow_mass_change=allow_mass_change, as_json=as_json)
            if as_json and not yes:
                raise ConfigError("apply --json never asks: pass --yes too (or apply a saved plan FILE)")
            shown: list[bool] = []

            def review(run: PlanRun, _refusals: object) -> bool:
                count = len(run.plan.changes) + len(run.plan.ledger_only())
                spinner.stop()  # the plan and the prompt, then the spinner again while applying
                if as_json:
                    ok = True
                else:
                    render_plan(out, run.plan)
                    shown.append(True)
                    ok = yes or _confirm(count)
                if ok:
                    spinner.update(f"Applying {count} change(s)…")
                    spinner.expect_writes(len(run.plan.changes))
                    spinner.start()
                return ok

            with mapped_context(mappings, settings) as (ctx, maps), working(err, READING, quiet=as_json) as spinner:
                request = Request(
                    Trigger.MANUAL,
                    Mode.APPLY,
                    scope=resolve_scope(ctx, companies),
                    allow_mass_change=allow_mass_change,
                    lock_wait=settings.locks.wait_seconds,
                )
                outcome = reconcile(ctx, maps, request, review)
            if as_json:
                emit(outcome_json(outcome))
                return outcome_exit(outcome)
            if not shown and outcome.run is not None:
                render_plan(out, outcome.run.plan)
            return apply_exit(out, err, outcome)

        guarded(body)

    def _confirm(count: int) -> bool:
        if not sys.stdin.isatty():
            err.print("crmsync: not asking on a non-interactive input; pass --yes to apply", markup=False)
            return False
        return typer.confirm(f"Apply {count} change(s)?", default=False)
