"""The composition root: build a run's edges from settings (the Schematic client, the connectors
the mapping files need, the state store, the clock, the lease policy). Only the sources that have
mapping files need credentials. The CLI, the demo, `serve` and the tests open their contexts here
and hand them to the one reconcile use case (service/reconcile.py). With a state store, the
Schematic write and HubSpot search rates are budgets shared through it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from crmsync.connectors.base import Connector
from crmsync.connectors.hubspot import HubSpotConnector, HubSpotSettings
from crmsync.domain import Source
from crmsync.errors import MappingError
from crmsync.mapping.base import load_base
from crmsync.mapping.loader import load_mappings, load_mappings_leniently
from crmsync.mapping.rules import Mappings
from crmsync.reconcile.notices import PlanWarning
from crmsync.schematic.client import SchematicClient
from crmsync.schematic.transport import Transport
from crmsync.service.preflight import preflight
from crmsync.service.sync import Context
from crmsync.settings import Settings, load_settings
from crmsync.store.budget import rate_budget
from crmsync.store.repository import Store


def schematic_client(settings: Settings, store: Store | None = None) -> SchematicClient:
    """A Schematic client from settings (needs SCHEMATIC_API_KEY); writes paced through `store` if given."""
    key = _schematic_key(settings)
    return SchematicClient(
        Transport(
            settings.schematic.url,
            key,
            timeout=settings.schematic.timeout,
            attempts=settings.schematic.attempts,
            budget=rate_budget(
                "schematic.writes", settings.schematic.writes_per_second, store.engine if store else None
            ),
            deadline=settings.schematic.deadline,
            retry_after_max=settings.schematic.retry_after_max,
            max_in_flight=settings.schematic.max_in_flight,
        )
    )


def _schematic_key(settings: Settings) -> str:
    return settings.require(settings.schematic.key, "SCHEMATIC_API_KEY", "your Schematic secret API key")


def connectors_for(settings: Settings, mappings: Mappings, store: Store | None = None) -> dict[Source, Connector]:
    """A connector for every CRM that at least one mapping file reads (searches paced through `store`)."""
    connectors: dict[Source, Connector] = {}
    for source in mappings.sources():
        if source is Source.HUBSPOT:
            token = settings.require(
                settings.hubspot.token, "HUBSPOT_ACCESS_TOKEN", "a HubSpot private app access token"
            )
            connectors[source] = HubSpotConnector(
                HubSpotSettings(
                    base_url=settings.hubspot.url,
                    access_token=token,
                    searches_per_second=settings.hubspot.searches_per_second,
                    backoff=settings.hubspot.backoff,
                    deadline=settings.hubspot.deadline,
                    retry_after_max=settings.hubspot.retry_after_max,
                ),
                rate_budget("hubspot.search", settings.hubspot.searches_per_second, store.engine if store else None),
            )
        elif source is Source.SALESFORCE:
            from crmsync.connectors.salesforce import SalesforceConnector, SalesforceSettings

            salesforce = replace(SalesforceSettings.from_env(settings.environ), deadline=settings.salesforce.deadline)
            connectors[source] = SalesforceConnector(salesforce)
    return connectors


def clock_of(settings: Settings) -> Callable[[], datetime]:
    """The run's clock: the instant CRMSYNC_NOW names when set, else the real one."""
    fixed = settings.now
    return (lambda: fixed) if fixed is not None else (lambda: datetime.now(UTC))


@contextmanager
def schematic_context(settings: Settings) -> Iterator[Context]:
    """Schematic and the state store only, no CRM (applying a saved plan, `release`); both closed on exit."""
    _schematic_key(settings)  # a missing key is reported before a state database is created
    store = Store(settings.database_url)
    try:
        with schematic_client(settings, store) as schematic:
            yield Context(schematic, {}, store, clock_of(settings), settings.guards, settings.locks.lease_seconds)
    finally:
        store.close()


@contextmanager
def open_context(settings: Settings, mappings: Mappings) -> Iterator[Context]:
    """Every edge a plan or apply needs; each one opened is closed on exit, whatever fails."""
    with schematic_context(settings) as ctx, ExitStack() as stack:
        connectors = connectors_for(settings, mappings, ctx.store)
        for connector in connectors.values():
            stack.callback(connector.close)
        yield replace(ctx, connectors=connectors)


@contextmanager
def mapped_context(folder: Path | None, settings: Settings | None = None) -> Iterator[tuple[Context, Mappings]]:
    """The mapping files (`--mappings` FOLDER, else CRMSYNC_MAPPINGS) and every edge they need, from
    `settings` (default: the environment's)."""
    settings = settings or load_settings()
    maps = load_mappings(folder or settings.mappings)
    with open_context(settings, maps) as ctx:
        yield ctx, maps


@contextmanager
def base_context(
    folder: Path | None, base: str, settings: Settings | None = None
) -> Iterator[tuple[Context, Mappings, Mappings]]:
    """`plan --base`: the mappings in force, the base mappings `base` names (a folder or a git ref,
    mapping/base.py), and every edge either set needs (a CRM only the base reads is read too)."""
    settings = settings or load_settings()
    head_folder = Path(folder or settings.mappings)
    maps = load_mappings(head_folder)
    older = load_base(base, head_folder)
    with open_context(settings, Mappings(maps.files + older.files)) as ctx:
        yield ctx, maps, older


def check_online(settings: Settings, folder: Path) -> tuple[Mappings, tuple[PlanWarning, ...]]:
    """`validate`: load what parses and check it against Schematic and the CRMs, reporting the
    structural and the online problems together (MappingError); returns the mappings and warnings."""
    maps, structural = load_mappings_leniently(folder)
    if not maps.files:
        raise MappingError(list(structural))
    with schematic_client(settings) as schematic, ExitStack() as stack:
        connectors = connectors_for(settings, maps)
        for connector in connectors.values():
            stack.callback(connector.close)
        checked = preflight(schematic, connectors, maps, companies=schematic.list_companies(), structural=structural)
    return maps, checked.warnings
