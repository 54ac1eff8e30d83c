"""The `crmsync` command: plan, apply, validate, status, demo, sandbox here; registered from their
own modules: test and explain (revops.py), release and adopt (release_adopt.py), owned (owned_cmd.py),
doctor, serve, db and ledger.

Entry point only: parse options, call the service, render. Every crmsync error becomes
one line (or one line per mapping problem) on stderr and an exit code; no tracebacks for
user errors. Exit codes: 0 ok, 1 failure, 2 bad mapping or configuration, 3 unsafe plan.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from crmsync.cli.consoles import lazy_console
from crmsync.cli.db import database_line
from crmsync.cli.db import register as register_db
from crmsync.cli.doctor import register as register_doctor
from crmsync.cli.helptext import Group
from crmsync.cli.jsonout import emit
from crmsync.cli.lazy import base_context, check_offline, check_online, mapped_context
from crmsync.cli.ledger import register as register_ledger
from crmsync.cli.options import CompaniesOption, MappingsOption
from crmsync.cli.owned_cmd import register as register_owned
from crmsync.cli.release_adopt import register as register_ownership
from crmsync.cli.revops import register as register_revops
from crmsync.cli.sandbox_cmd import register as register_sandbox
from crmsync.cli.schema import register as register_schema
from crmsync.cli.serve import register as register_serve
from crmsync.cli.ui import register as register_ui

if TYPE_CHECKING:
    from crmsync.service.context import PlanRun

# Only what defines the commands is imported here: `--help`, `--version` and `validate --offline`
# must start in under 0.5 s (bench/startup.py), so rendering, the service and the settings are
# imported by the command bodies, and the consoles are built on first use.
app = typer.Typer(
    cls=Group,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Keep Schematic company overrides equal to what closed CRM deals say.",
)
out = lazy_console()
err = lazy_console(stderr=True)
T = TypeVar("T")

READING = "Reading deals and live overrides…"
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")]


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"crmsync {version('crmsync')}")
        raise typer.Exit(0)


@app.callback()
def logging_options(
    ctx: typer.Context,
    log_format: Annotated[
        str,
        typer.Option("--log-format", envvar="CRMSYNC_LOG_FORMAT", metavar="console|json",
                     help="Log events on stderr as text (coloured on a terminal) or as JSON lines."),
    ] = "console",
    log_level: Annotated[
        str | None,
        typer.Option("--log-level", envvar="CRMSYNC_LOG_LEVEL", metavar="debug|info|warning|error",
                     help="Least severe log event shown (default: warning; info for serve)."),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_print_version, help="Print crmsync's version and exit."),
    ] = False,
) -> None:
    """Keep Schematic company overrides equal to what closed CRM deals say."""
    _ = version  # handled eagerly by `_print_version`
    from crmsync.cli import session
    from crmsync.logs import configure_logging

    session.reset()  # a new invocation (tests run many in one process): its own settings and secrets
    level = log_level or ("info" if ctx.invoked_subcommand == "serve" else "warning")
    try:  # logs go to stderr, so stdout stays clean for --json; secrets are scrubbed from every line
        configure_logging(log_format.lower(), level.lower())  # the secrets: when the settings are loaded
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def guarded(action: Callable[[], int], *, error_code: int | None = None) -> None:
    """Run a command body; turn crmsync errors into one-line messages and exit codes
    (every error exits `error_code` when given: `plan --detailed-exitcode` keeps 2 for changes)."""
    from crmsync.errors import CrmsyncError, MappingError
    from crmsync.redaction import scrub

    try:
        code = action()
    except MappingError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        err.print(f"{len(exc.problems)} problem(s) in the mapping files; nothing was written.", markup=False)
        code = error_code or exc.exit_code
    except CrmsyncError as exc:
        err.print(f"crmsync: {scrub(str(exc))}", markup=False)
        code = error_code or exc.exit_code
    except (KeyboardInterrupt, typer.Abort):  # Ctrl-C anywhere, also at the `Apply …?` prompt
        err.print("crmsync: cancelled", markup=False)
        code = 130
    except Exception as exc:  # noqa: BLE001 - last resort: a bug still ends in one line, not a traceback
        detail = scrub(str(exc).splitlines()[0][:200]) if str(exc) else ""
        err.print(f"crmsync: unexpected {type(exc).__name__}: {detail} (a bug in crmsync; please report it)",
                  markup=False)
        code = 1
    raise typer.Exit(code)


@app.command()
def plan(
    mappings: MappingsOption = None,
    companies: CompaniesOption = None,
    as_json: JsonOption = False,
    fail_on_warning: Annotated[
        bool, typer.Option("--fail-on-warning", help="Exit 1 when the plan has any warning (for CI).")
    ] = False,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Also save the plan to FILE: `crmsync apply FILE` applies exactly it.")
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
            "--format", metavar="text|json|markdown",
            help="text (default), json (same as --json), or markdown: a pull-request comment that fits GitHub's limit.",
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
        typer.Argument(metavar="FILE", help="A plan saved by `crmsync plan --out`: applied exactly, without asking."),
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
            help="This run only: apply even if a blast-radius guard refuses, and the deletes a shrunk CRM withholds.",
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


@app.command()
def validate(
    mappings: MappingsOption = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Skip the checks that need Schematic and the CRMs (files only).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Check every mapping file, and (online) against Schematic and the CRMs; never writes."""

    def body() -> int:
        from crmsync.cli import session
        from crmsync.cli.outcome_json import validation_json
        from crmsync.errors import MappingError

        settings = session.settings()
        folder = mappings or settings.mappings
        try:
            if offline:
                maps = check_offline(folder)
            else:
                maps, warnings = check_online(settings, folder)
                for warning in warnings:
                    err.print(f"warning: {warning}", markup=False)
        except MappingError as exc:
            if not as_json:
                raise
            emit(validation_json(str(folder), 0, 0, online=not offline, problems=exc.problems))
            return exc.exit_code
        rules = sum(len(f.overrides) for f in maps.files)
        checked = "" if offline else " and checked against Schematic and the CRMs"
        if as_json:
            emit(validation_json(str(folder), len(maps.files), rules, online=not offline))
            return 0
        valid = f"{len(maps.files)} mapping file(s), {rules} rule(s) in {folder}: valid{checked}."
        out.print(valid, markup=False, emoji=False)
        return 0

    guarded(body)


@app.command()
def status(as_json: JsonOption = False) -> None:
    """Recent runs, open conflicts and pending companies, and the last apply's per-change results."""
    def body() -> int:
        from crmsync.cli import session
        from crmsync.cli.runs import show_status
        from crmsync.store.repository import Store

        store = Store(session.settings().database_url)
        try:
            (err if as_json else out).print(database_line(store), markup=False)
            store.close_dead_runs()  # a run a killed process left `running` is shown as interrupted
            return show_status(out, store, as_json=as_json)
        finally:
            store.close()

    guarded(body)


@app.command()
def demo() -> None:
    """Start the sandbox with the sample data and run plan → apply → plan."""
    from crmsync.cli.demo import run_demo

    guarded(lambda: run_demo(out))


register_revops(app, guarded, out)  # `test` and `explain`
register_ownership(app, guarded, out)  # `release` and `adopt`
register_db(app, guarded, out)  # `db upgrade` and `db current`
register_ledger(app, guarded, out)  # `ledger rebuild`
register_owned(app, guarded, out)  # `owned`
register_doctor(app, guarded, out)  # `doctor`
register_serve(app, guarded, out)  # `serve`
register_sandbox(app, guarded, out)  # `sandbox`, `sandbox deal …`, `sandbox opportunity …`
register_schema(app, guarded, out)  # `schema features|traits|properties|stages`
register_ui(app, guarded, out)  # `ui`


def _confirm(count: int) -> bool:
    if not sys.stdin.isatty():
        err.print("crmsync: not asking on a non-interactive input; pass --yes to apply", markup=False)
        return False
    return typer.confirm(f"Apply {count} change(s)?", default=False)


def main() -> None:
    """Console script entry point."""
    app()


__all__ = ["app", "main"]
