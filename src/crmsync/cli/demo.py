"""`crmsync demo` and `crmsync sandbox`: the bundled emulators with the sample data.

The demo runs plan → apply → plan against a fresh sandbox and an embedded SQLite file in
a temporary folder, and shows that the second plan is empty and that the manual override
(one crmsync did not create) is untouched. Exit 0 only when both hold.
"""

from __future__ import annotations

import shlex
import signal
import tempfile
import time
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from crmsync.app import mapped_context
from crmsync.cli import session
from crmsync.cli.demo_serve import show_serve
from crmsync.cli.render import render_plan, render_report
from crmsync.domain import RunStatus, Trigger
from crmsync.errors import CrmsyncError
from crmsync.sandbox import Sandbox
from crmsync.sandbox.control import make_control_app
from crmsync.sandbox.serve import serve_app
from crmsync.service.apply import ApplyReport
from crmsync.service.reconcile import Mode, Request, reconcile
from crmsync.settings import load_settings


def sample_mappings() -> Path:
    """The mapping files written for the sample data (shipped in the package)."""
    return Path(str(resources.files("crmsync.sandbox") / "mappings"))


SAMPLE_DAY = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # the day the sample data describes


def run_demo(console: Console) -> int:
    """plan → apply → plan on a fresh sandbox; 0 when the second plan is empty and the
    manual override is untouched. The sample is judged as of its own day (or CRMSYNC_NOW),
    so the demo shows the same thing whenever it runs."""
    as_of = session.settings().now or SAMPLE_DAY
    with Sandbox() as sb, tempfile.TemporaryDirectory(prefix="crmsync-demo-") as tmp:
        env = {
            **sb.env(),
            "CRMSYNC_DATABASE_URL": f"sqlite:///{tmp}/demo.db",
            "CRMSYNC_MAPPINGS": str(sample_mappings()),
        }
        settings = replace(load_settings(env).unpaced(), now=as_of)  # the sandbox's own, not the user's
        console.print(
            f"Sandbox: HubSpot at {sb.hubspot_url}, Salesforce at {sb.salesforce_url} (TLS), "
            f"Schematic at {sb.schematic_url}"
        )
        console.print(f"Mappings: {settings.mappings}   State: {tmp}/demo.db")
        console.print(f"Deals judged as of {as_of:%Y-%m-%d %H:%M}Z (the sample's day; CRMSYNC_NOW changes it)\n")
        manual_before = {i: dict(o) for i, o in sb.schematic.overrides.items()}
        with mapped_context(settings.mappings, settings) as (ctx, maps):
            console.print(Rule("1/4  crmsync plan"))
            first = reconcile(ctx, maps, Request(Trigger.DEMO, Mode.PLAN)).run
            assert first is not None
            render_plan(console, first.plan)

            console.print(Rule("2/4  crmsync apply --yes"))
            applied = reconcile(ctx, maps, Request(Trigger.DEMO, Mode.APPLY))
            report = applied.report or ApplyReport()
            render_report(console, report)

            console.print(Rule("3/4  crmsync plan (again: nothing should change)"))
            second = reconcile(ctx, maps, Request(Trigger.DEMO, Mode.PLAN)).run
            assert second is not None
            render_plan(console, second.plan)
        untouched = all(sb.schematic.overrides.get(i) == o for i, o in manual_before.items())
        console.print(Rule())
        for override_id, before in manual_before.items():
            note = "; ".join(n.get("note", "") for n in before.get("notes", []))
            state = "untouched" if sb.schematic.overrides.get(override_id) == before else "CHANGED"
            console.print(f"Manual override {override_id} ({note}): {state}.")
        console.print(Rule("4/4  crmsync serve: a deal closes, nobody runs a command"))
        followed = show_serve(console, sb, env, as_of)
        console.print(Rule())
        ok = applied.status is RunStatus.OK and second.plan.is_empty and untouched and followed
        console.print(
            "Demo passed: the second plan is empty, the manual override is untouched, and serve followed the deal."
            if ok
            else "Demo FAILED: see above."
        )
        if console.is_terminal:  # a person is watching: show them the console; piped output ends here as before
            from crmsync.cli.demo_console import offer_console

            offer_console(console, {**env, "CRMSYNC_NOW": as_of.isoformat()}, settings.mappings)
        return 0 if ok else 1


def serve_sandbox(
    console: Console,
    hubspot_port: int,
    schematic_port: int,
    salesforce_port: int,
    control_port: int = 0,
    *,
    push_to: str | None = None,
) -> int:
    """Serve the emulators in the foreground and print the environment to use them (every value quoted
    for the shell, and a state database of its own in the sandbox's temporary folder, so a rehearsal never
    touches the user's real ledger), until Ctrl-C or SIGTERM (either stops the servers and removes the
    temporary folders). A port in use is one line. The control endpoint on `control_port` lets
    `crmsync sandbox deal|opportunity …` change records from another shell; with `push_to`, every change
    is pushed as a signed webhook to the crmsync serve at that URL (its secrets are exported too)."""
    sb = Sandbox(hubspot_port=hubspot_port, schematic_port=schematic_port, salesforce_port=salesforce_port)
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    state = tempfile.TemporaryDirectory(prefix="crmsync-sandbox-")
    stack = ExitStack()
    try:
        try:
            sb.start()
            control = serve_app(make_control_app(sb), port=control_port)
        except OSError as exc:
            raise CrmsyncError(
                f"sandbox: {exc.strerror or exc}; pick other ports with --hubspot-port, "
                "--schematic-port, --salesforce-port, --control-port (0: any free port)"
            ) from exc
        stack.callback(control.stop)
        console.print("crmsync sandbox is running (Ctrl-C to stop). In another shell:\n")
        env = sb.env() | {
            "CRMSYNC_DATABASE_URL": f"sqlite:///{state.name}/state.db",
            "CRMSYNC_SANDBOX_URL": control.url,
        }
        if push_to:
            env |= sb.subscribe(push_to.rstrip("/"))
        for name, value in env.items():
            console.print(f"export {name}={shlex.quote(value)}", markup=False, highlight=False, soft_wrap=True)
        if push_to:
            console.print(f"# every change below is pushed as a webhook to {push_to}", markup=False, highlight=False)
        console.print("crmsync plan                      # your mappings (./mappings or CRMSYNC_MAPPINGS)")
        console.print("crmsync sandbox deal close 1023 seats_purchased=300   # a salesperson wins a deal",
                      markup=False, highlight=False)  # fmt: skip
        console.print(f"crmsync plan --mappings {sample_mappings()}   # the sample's", markup=False, highlight=False)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("\nsandbox stopped")
        return 0
    finally:
        stack.close()
        sb.stop()
        state.cleanup()
        signal.signal(signal.SIGTERM, previous)


def _stop_on_sigterm(_signum: int, _frame: object) -> None:
    """`kill -TERM` stops the sandbox as Ctrl-C does (the `finally` cleans up)."""
    raise KeyboardInterrupt
