"""Build a run's edges from settings: the Schematic client, the connectors the mapping
files need, the state store. Only the sources that have mapping files need credentials.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime

from crmsync.connectors.base import Connector
from crmsync.connectors.hubspot import HubSpotConnector, HubSpotSettings
from crmsync.domain import Source
from crmsync.mapping.rules import Mappings
from crmsync.schematic.client import SchematicClient
from crmsync.schematic.transport import Transport
from crmsync.service.sync import Context
from crmsync.settings import Settings
from crmsync.store.repository import Store


def schematic_client(settings: Settings) -> SchematicClient:
    """A Schematic client from settings (needs SCHEMATIC_API_KEY)."""
    key = settings.require(settings.schematic_key, "SCHEMATIC_API_KEY", "your Schematic secret API key")
    return SchematicClient(
        Transport(
            settings.schematic_url,
            key,
            timeout=settings.schematic_timeout,
            attempts=settings.schematic_attempts,
            writes_per_second=settings.schematic_writes_per_second,
        )
    )


def connectors_for(settings: Settings, mappings: Mappings) -> dict[Source, Connector]:
    """A connector for every CRM that at least one mapping file reads."""
    connectors: dict[Source, Connector] = {}
    for source in mappings.sources():
        if source is Source.HUBSPOT:
            token = settings.require(
                settings.hubspot_token, "HUBSPOT_ACCESS_TOKEN", "a HubSpot private app access token"
            )
            connectors[source] = HubSpotConnector(
                HubSpotSettings(
                    base_url=settings.hubspot_url,
                    access_token=token,
                    searches_per_second=settings.hubspot_searches_per_second,
                    backoff=settings.hubspot_backoff,
                )
            )
        elif source is Source.SALESFORCE:
            from crmsync.connectors.salesforce import SalesforceConnector, SalesforceSettings

            connectors[source] = SalesforceConnector(SalesforceSettings.from_env(settings.environ))
    return connectors


@contextmanager
def open_context(settings: Settings, mappings: Mappings) -> Iterator[Context]:
    """Every edge a plan or apply needs; each one opened is closed on exit, whatever fails."""
    with ExitStack() as stack:
        schematic = stack.enter_context(schematic_client(settings))
        store = Store(settings.database_url)
        stack.callback(store.close)
        connectors = connectors_for(settings, mappings)
        for connector in connectors.values():
            close = getattr(connector, "close", None)
            if callable(close):
                stack.callback(close)
        fixed = settings.now
        yield Context(
            schematic=schematic,
            connectors=connectors,
            store=store,
            clock=(lambda: fixed) if fixed is not None else (lambda: datetime.now(UTC)),
            guards=settings.guards,
        )
