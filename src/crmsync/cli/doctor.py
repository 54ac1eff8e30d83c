"""`crmsync doctor`: for Schematic and each CRM a mapping file reads, are the credentials there, is
the service reachable, may the credentials read what crmsync reads (HubSpot scopes, Salesforce
object access), and how much rate limit is left — one line each; exit 0 when all pass, else 1.
Never writes. `register(app, guarded, out)` adds it to the main app (cli/__init__.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from crmsync.cli.jsonout import emit
from crmsync.cli.options import Guard, JsonLinesOption, MappingsOption

if TYPE_CHECKING:
    from rich.console import Console

    from crmsync.connectors.probe import Probe
    from crmsync.domain import Source
    from crmsync.settings import Settings


def register(app: typer.Typer, guarded: Guard, out: Console) -> None:
    """Add `doctor` to the app; `guarded` turns crmsync errors into exit codes."""

    @app.command("doctor")
    def doctor(
        mappings: MappingsOption = None,
        as_json: JsonLinesOption = False,
    ) -> None:
        """Check credentials, reachability, permissions and rate-limit headroom of Schematic and each CRM."""

        def body() -> int:
            probes = run_checks(mappings)
            if as_json:
                emit({"ok": all(p.ok for p in probes), "checks": [vars(p) for p in probes]})
            else:
                from crmsync.redaction import scrub  # as emit() does for --json: a detail may quote a vendor

                for p in probes:
                    mark = "[green]✓[/]" if p.ok else "[bold red]✗[/]"
                    out.print(f"{mark} {p.service} {p.check}: ", end="", highlight=False)
                    out.print(scrub(p.detail), markup=False, highlight=False)
                    if p.warning:
                        out.print("  [yellow]warning:[/] ", end="", highlight=False)
                        out.print(scrub(p.warning), markup=False, highlight=False)
                failed = sum(1 for p in probes if not p.ok)
                out.print(f"{len(probes) - failed} of {len(probes)} checks passed.", highlight=False)
            return 0 if all(p.ok for p in probes) else 1

        guarded(body)


def run_checks(folder: Path | None) -> list[Probe]:
    """Schematic's checks, then each mapped CRM's (a mapping folder that does not load is one failed line)."""
    from crmsync.app import schematic_client
    from crmsync.cli import session
    from crmsync.connectors.probe import Probe
    from crmsync.domain import Source
    from crmsync.errors import ConfigError, CrmsyncError
    from crmsync.mapping.loader import load_mappings

    settings = session.settings()
    probes: list[Probe] = []
    if not settings.schematic.key:
        probes.append(Probe("schematic", "credentials", False, "SCHEMATIC_API_KEY is not set"))
    else:
        try:
            with schematic_client(settings) as schematic:
                features = schematic.list_features()
            probes += [
                Probe("schematic", "reachability", True, f"{settings.schematic.url} answers"),
                Probe("schematic", "credentials", True, f"SCHEMATIC_API_KEY accepted ({len(features)} features)"),
            ]
        except CrmsyncError as exc:
            probes.append(Probe("schematic", "reachability", False, str(exc)))
    try:
        sources = load_mappings(folder or settings.mappings).sources()
    except CrmsyncError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return [*probes, Probe("mappings", "load", False, first)]
    for source in sources:
        try:
            probes += _probe_source(source, settings)
        except ConfigError as exc:  # a credential not set
            probes.append(Probe(source.value, "credentials", False, str(exc)))
    if Source.HUBSPOT not in sources and Source.SALESFORCE not in sources:
        probes.append(Probe("mappings", "sources", False, "no mapping file reads a CRM"))
    return probes


def _probe_source(source: Source, settings: Settings) -> list[Probe]:
    from crmsync.domain import Source

    if source is Source.HUBSPOT:
        from crmsync.connectors.hubspot import HubSpotSettings
        from crmsync.connectors.hubspot_probe import probe_hubspot

        token = settings.require(settings.hubspot.token, "HUBSPOT_ACCESS_TOKEN", "a HubSpot private app access token")
        return probe_hubspot(HubSpotSettings(base_url=settings.hubspot.url, access_token=token))
    from crmsync.connectors.salesforce_probe import probe_salesforce

    settings.salesforce.flow()  # ConfigError naming the variables missing for every flow
    return probe_salesforce(settings.salesforce)
