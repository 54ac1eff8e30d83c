"""The emulators' metadata APIs through the real clients: HubSpot deal properties (hubspot-api-client)
and Schematic trait definitions (httpx via the SchematicClient)."""

from __future__ import annotations

from collections.abc import Iterator

import hubspot
import pytest
from hubspot.crm.properties import ApiException

from crmsync.connectors.hubspot import HubSpotConnector, HubSpotSettings
from crmsync.mapping.crm_schema import FieldKind
from crmsync.sandbox import Sandbox
from crmsync.sandbox.schematic_traits import add_trait
from crmsync.schematic.client import SchematicClient
from crmsync.schematic.transport import Transport

TIMEOUT = (3, 10)


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    """The sample sandbox."""
    with Sandbox() as sandbox:
        yield sandbox


def test_deal_properties_list_hubspots_own_and_the_custom_ones_typed_by_value(sb: Sandbox) -> None:
    """GET /crm/v3/properties/deals: dealstage with the stages as options, custom properties typed."""
    api = hubspot.Client.create(access_token=sb.hubspot.access_token, host=sb.hubspot_url).crm.properties.core_api
    props = {p.name: p for p in api.get_all("deals", _request_timeout=TIMEOUT).results}
    assert props["api_call_limit"].type == "number" and props["contract_end_date"].type == "date"
    assert props["seats_purchased"].type == "number"  # defined by the sample (though one deal holds "fifty")
    assert props["sso_addon"].type == "string"  # undefined: typed by its values ("true", "yes")
    assert props["dealstage"].type == "enumeration" and "ent_won" in {o.value for o in props["dealstage"].options}
    assert props["dealname"].hubspot_defined and not props["seats_purchased"].hubspot_defined
    assert api.get_by_name("deals", "amount", _request_timeout=TIMEOUT).type == "number"
    with pytest.raises(ApiException) as missing:
        api.get_by_name("deals", "seats_purchase", _request_timeout=TIMEOUT)
    assert missing.value.status == 404


def test_a_declared_property_exists_before_any_deal_has_it(sb: Sandbox) -> None:
    """`property_types` declares a property no deal carries, with its type."""
    sb.hubspot.property_types["renewal_date"] = "date"
    connector = HubSpotConnector(HubSpotSettings(sb.hubspot_url, sb.hubspot.access_token, searches_per_second=0))
    try:
        schema = connector.deal_schema()
        field = schema.field("renewal_date")
        assert field is not None and field.kind is FieldKind.DATE
        assert {p.id for p in schema.pipelines} == {"default", "enterprise"}
        calls = len(sb.hubspot.requests)
        assert connector.deal_schema() is schema and len(sb.hubspot.requests) == calls  # cached for the run
    finally:
        connector.close()
        del sb.hubspot.property_types["renewal_date"]


def test_trait_definitions_are_listed_and_found_by_the_client(sb: Sandbox) -> None:
    """GET /entity-trait-definitions answers {data, params}; the client reads id and display name."""
    trait_id = add_trait(sb.schematic, "Seat count", trait_type="number")
    add_trait(sb.schematic, "Plan tier", trait_type="string", entity_type="user")
    with SchematicClient(Transport(sb.schematic_url, sb.schematic.api_key, timeout=5)) as client:
        traits = client.list_traits()
    assert [(t.id, t.name, t.trait_type) for t in traits] == [(trait_id, "Seat count", "number")]


def test_a_token_without_the_schema_scope_is_told_which_scope_to_add(sb: Sandbox) -> None:
    """A 403 from the properties API is an AuthError naming crm.schemas.deals.read, not a bare status."""
    from crmsync.errors import AuthError

    sb.hubspot.fail_next(403, path_prefix="/crm/v3/properties")
    connector = HubSpotConnector(HubSpotSettings(sb.hubspot_url, sb.hubspot.access_token, searches_per_second=0))
    try:
        with pytest.raises(AuthError, match=r"crm\.schemas\.deals\.read"):
            connector.deal_schema()
    finally:
        connector.close()
