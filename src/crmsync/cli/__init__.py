"""The `crmsync` command: validate, status and demo here; registered from their own modules: plan and
apply (plan_apply.py), test and explain (revops.py), release and adopt (release_adopt.py), owned
(owned_cmd.py), sandbox (sandbox_cmd.py), doctor, serve, db, ledger, schema and ui.

Entry point only: parse options, call the service, render. Every crmsync error becomes
one line (or one line per mapping problem) on stderr and an exit code; no tracebacks for
user errors. Exit codes: 0 ok, 1 failure, 2 bad mapping or configuration, 3 unsafe plan.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import typer

from crmsync.cli.consoles import lazy_console
from crmsync.cli.db import database_line
from crmsync.cli.db import register as register_db
from crmsync.cli.doctor import register as register_doctor
from crmsync.cli.helptext import Group
from crmsync.cli.jsonout import emit
from crmsync.cli.lazy import check_offline, check_online
from crmsync.cli.ledger import register as register_ledger
from crmsync.cli.options import JsonOption, MappingsOption
from crmsync.cli.owned_cmd import register as register_owned
from crmsync.cli.plan_apply import register as register_plan_apply
from crmsync.cli.release_adopt import register as register_ownership
from crmsync.cli.revops import register as register_revops
from crmsync.cli.sandbox_cmd import register as register_sandbox
from crmsync.cli.schema import register as register_schema
from crmsync.cli.serve import register as register_serve
from crmsync.cli.ui import register as register_ui

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
        typer.Option(
            "--log-format",
            envvar="CRMSYNC_LOG_FORMAT",
            metavar="console|json",
            help="Log events on stderr as text (coloured on a terminal) or as JSON lines.",
        ),
    ] = "console",
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            envvar="CRMSYNC_LOG_LEVEL",
            metavar="debug|info|warning|error",
            help="Least severe log event shown (default: warning; info for serve).",
        ),
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
        err.print(
            f"crmsync: unexpected {type(exc).__name__}: {detail} (a bug in crmsync; please report it)", markup=False
        )
        code = 1
    raise typer.Exit(code)


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


register_plan_apply(app, guarded, out, err)  # `plan` and `apply`
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


def main() -> None:
    """Console script entry point."""
    app()


__all__ = ["app", "main"]
