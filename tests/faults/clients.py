"""Real clients (httpx, hubspot-api-client, simple-salesforce) pointed at a harness's sandbox,
with small deadlines so a fault test takes seconds."""

from __future__ import annotations

from crmsync.connectors.base import DealQuery
from crmsync.connectors.hubspot import HubSpotConnector, HubSpotSettings
from crmsync.connectors.salesforce import SalesforceConnector
from crmsync.mapping.rules import DealFilter
from crmsync.schematic.client import SchematicClient
from crmsync.schematic.transport import Transport
from crmsync.settings import salesforce_settings
from tests.e2e.conftest import Harness

HUBSPOT_QUERY = DealQuery((DealFilter(stages=("closedwon",)),), ("seats_purchased",))
SALESFORCE_QUERY = DealQuery((DealFilter(stages=("Closed Won",)),), ("Amount",))


def schematic(
    h: Harness, *, deadline: float = 2.0, timeout: float = 1.0, attempts: int = 5, retry_after_max: float = 30.0
) -> SchematicClient:
    """A Schematic client over httpx."""
    return SchematicClient(
        Transport(
            h.sb.schematic_url,
            h.sb.schematic.api_key,
            timeout=timeout,
            attempts=attempts,
            deadline=deadline,
            writes_per_second=0,
            retry_after_max=retry_after_max,
        )
    )


def hubspot(h: Harness, *, deadline: float = 2.0, retry_after_max: float = 30.0) -> HubSpotConnector:
    """A HubSpot connector over hubspot-api-client."""
    return HubSpotConnector(
        HubSpotSettings(
            h.sb.hubspot_url,
            h.sb.hubspot.access_token,
            searches_per_second=0,
            backoff=0.01,
            deadline=deadline,
            retry_after_max=retry_after_max,
        )
    )


def salesforce(h: Harness, *, deadline: float = 2.0) -> SalesforceConnector:
    """A Salesforce connector over simple-salesforce (TLS)."""
    settings = salesforce_settings(h.sb.env(), deadline=deadline)
    return SalesforceConnector(settings, retry_wait=0.01)
