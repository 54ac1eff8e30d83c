"""`crmsync sandbox`: serve the emulators with the sample data (optionally pushing signed webhooks to a
serve of your own with `--push-to URL`), and drive a running one from another shell:
`crmsync sandbox deal close|update|delete ID [name=value…]` for HubSpot deals and
`crmsync sandbox opportunity close|update|delete ID [Field=value…]` for Salesforce opportunities.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from crmsync.cli.options import Guard
from crmsync.errors import ConfigError, CrmsyncError

if TYPE_CHECKING:
    from rich.console import Console

DEFAULT_CONTROL = "http://127.0.0.1:8004"
FieldsArgument = Annotated[
    list[str] | None, typer.Argument(help="name=value pairs to set (e.g. seats_purchased=300).", show_default=False)
]
SandboxOption = Annotated[
    str | None,
    typer.Option(
        "--sandbox",
        envvar="CRMSYNC_SANDBOX_URL",  # exported by `crmsync sandbox` (typer reads it: settings holds crmsync's own)
        help="The running sandbox's control URL (default: CRMSYNC_SANDBOX_URL, else :8004).",
    ),
]


def register(app: typer.Typer, guarded: Guard, out: Console) -> None:
    """Add `sandbox` and its `deal` and `opportunity` commands to the app."""
    sandbox_app = typer.Typer(rich_markup_mode=None, help="The HubSpot, Salesforce and Schematic emulators.")
    app.add_typer(sandbox_app, name="sandbox")

    @sandbox_app.callback(invoke_without_command=True)
    def sandbox(
        ctx: typer.Context,
        hubspot_port: Annotated[int, typer.Option(help="Port of the HubSpot emulator (0: any free port).")] = 8001,
        schematic_port: Annotated[int, typer.Option(help="Port of the Schematic emulator (0: any free port).")] = 8002,
        salesforce_port: Annotated[
            int, typer.Option(help="Port of the Salesforce emulator (0: any free port).")
        ] = 8003,
        control_port: Annotated[
            int, typer.Option(help="Port of the control endpoint `sandbox deal|opportunity` use (0: any).")
        ] = 8004,
        push_to: Annotated[
            str | None, typer.Option(help="Push signed webhooks to the crmsync serve at this URL (e.g. :8080).")
        ] = None,
    ) -> None:
        """Serve the HubSpot, Salesforce and Schematic emulators with the sample data until Ctrl-C."""
        if ctx.invoked_subcommand is not None:
            return
        from crmsync.cli.demo import serve_sandbox

        ports = (hubspot_port, schematic_port, salesforce_port, control_port)
        guarded(lambda: serve_sandbox(out, *ports, push_to=push_to))

    for kind, noun, system in (("deals", "deal", "HubSpot deal"), ("opportunities", "opportunity", "Salesforce "
                                                                   "opportunity")):  # fmt: skip
        sandbox_app.add_typer(_records(kind, noun, system, guarded, out), name=noun)


def _records(kind: str, noun: str, system: str, guarded: Guard, out: Console) -> typer.Typer:
    """`close`, `update` and `delete` of one kind of record in a running sandbox."""
    group = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help=f"Change a {system} in a running sandbox.")

    def change(action: str, record_id: str, fields: list[str] | None, sandbox: str | None) -> None:
        def body() -> int:
            from crmsync.sandbox.control import ControlError, drive

            url = sandbox or DEFAULT_CONTROL
            try:
                answer = drive(url, kind, record_id, action, _pairs(fields or []))
            except ControlError as exc:
                raise CrmsyncError(f"sandbox {noun} {action} {record_id}: {exc}") from exc
            shown = answer.get("properties") or answer.get("fields") or {}
            done = {"close": "closed (won)", "update": "updated", "delete": "deleted"}[action]
            out.print(f"{system} {record_id} {done}.", markup=False, highlight=False)
            for name in sorted(_pairs(fields or [])) + (["dealstage"] if action == "close" and kind == "deals" else []):
                if name in shown:
                    out.print(f"  {name} = {shown[name]}", markup=False, highlight=False)
            return 0

        guarded(body)

    @group.command("close")
    def close(record_id: str, fields: FieldsArgument = None, sandbox: SandboxOption = None) -> None:
        """Win it (HubSpot stage closedwon; Salesforce Closed Won), setting any name=value given too."""
        change("close", record_id, fields, sandbox)

    @group.command("update")
    def update(record_id: str, fields: FieldsArgument = None, sandbox: SandboxOption = None) -> None:
        """Set name=value fields."""
        change("update", record_id, fields, sandbox)

    @group.command("delete")
    def delete(record_id: str, sandbox: SandboxOption = None) -> None:
        """Delete it (to the recycle bin, as the CRM does)."""
        change("delete", record_id, [], sandbox)

    return group


def _pairs(fields: list[str]) -> dict[str, str]:
    """`name=value` arguments as a mapping; anything else is a one-line usage error."""
    pairs: dict[str, str] = {}
    for text in fields:
        name, eq, value = text.partition("=")
        if not eq or not name.strip():
            raise ConfigError(f"{text!r}: give fields as name=value, e.g. seats_purchased=300")
        pairs[name.strip()] = value
    return pairs
