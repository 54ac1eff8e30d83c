"""The dedicated fidelity run: crmsync's real connector and Schematic client, over loopback,
through every endpoint crmsync calls and every error it must read (400/401/404/429/5xx),
plus the emulator-only endpoints through the SDKs, with both emulators recording the wire.

`record()` returns the exchanges per service; `CRMSYNC_CALLS` lists the operations crmsync
itself calls, which the suite requires to be covered.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import hubspot
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest

from crmsync.cli.demo import sample_mappings
from crmsync.connectors.base import DealQuery
from crmsync.connectors.hubspot import HubSpotConnector, HubSpotSettings
from crmsync.domain import CompanyId, OverrideId
from crmsync.errors import ServiceError
from crmsync.mapping.rules import DealFilter
from crmsync.sandbox import Sandbox, SandboxData, parse_data
from crmsync.sandbox.recording import Exchange
from crmsync.sandbox.variants import varied_seed
from crmsync.schematic.client import SchematicClient
from crmsync.schematic.transport import Transport
from crmsync.settings import load_settings
from tests.e2e.conftest import Harness, crmsync_env, fast

CRMSYNC_CALLS = (
    ("hubspot", "POST /crm/v3/objects/0-3/search"),
    ("hubspot", "POST /crm/v3/objects/0-3/batch/read"),
    ("hubspot", "POST /crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read"),
    ("schematic", "GET /features"),
    ("schematic", "GET /companies"),
    ("schematic", "GET /companies/lookup"),
    ("schematic", "GET /plan-entitlements"),
    ("schematic", "GET /company-overrides"),
    ("schematic", "POST /company-overrides"),
    ("schematic", "PUT /company-overrides/{company_override_id}"),
    ("schematic", "DELETE /company-overrides/{company_override_id}"),
)


@dataclass
class Recording:
    """What the run saw, per service."""

    hubspot: list[Exchange]
    schematic: list[Exchange]


def _expect_error(action: Callable[[], object]) -> None:
    """Run a call that must fail with crmsync's own error (the point is the exchange, not the result)."""
    try:
        action()
    except ServiceError:
        return
    raise AssertionError("the call was expected to fail")


def fidelity_data() -> SandboxData:
    """The sample with the Schematic variants folded in, so that companies on no plan, on a plan
    without version, with add-ons, traits, several keys and none are all rendered and validated."""
    return parse_data(varied_seed("company-keys", varied_seed("plans")), "<sample, plans + company-keys>")


def record(tmp: Path) -> Recording:
    """Run every flow and error path once; return the recorded exchanges."""
    with Sandbox(fidelity_data()) as sb:
        sb.hubspot.exchanges, sb.schematic.exchanges = [], []
        settings = fast(load_settings(crmsync_env(sb, f"sqlite:///{tmp}/state.db", sample_mappings())))
        harness = Harness(sb, settings)
        _main_flows(harness)
        _hubspot_errors(sb)
        _schematic_errors(sb)
        _emulator_only(sb)
        return Recording(list(sb.hubspot.exchanges), list(sb.schematic.exchanges))


def _main_flows(harness: Harness) -> None:
    """plan → apply (creates), a deal changes (update), a deal is lost (delete), a scoped plan."""
    sb = harness.sb
    harness.apply()
    sb.hubspot.update_deal("1002", seats_purchased="80")
    sb.hubspot.update_deal("1004", dealstage="closedlost")
    harness.apply()
    with SchematicClient(Transport(sb.schematic_url, sb.schematic.api_key)) as client:
        acme = client.lookup_company({"hubspot_company_id": "5001"})
        assert acme is not None
        assert client.lookup_company({"hubspot_company_id": "no-such-company"}) is None
    connector = _connector(sb.hubspot_url, sb.hubspot.access_token)
    query = DealQuery((DealFilter(stages=("closedwon", "ent_won"), pipelines=None),), ("seats_purchased",))
    assert connector.read_deals_of_companies(query, ["5001", "5002"]).deals
    connector.close()


def _connector(url: str, token: str, retries: int = 0) -> HubSpotConnector:
    return HubSpotConnector(HubSpotSettings(url, token, searches_per_second=0.0, retries=retries, backoff=0.01))


def _hubspot_errors(sb: Sandbox) -> None:
    """401 bad token, 400 refused search, 429 and 5xx from the search and association reads."""
    query = DealQuery((DealFilter(stages=("closedwon",), pipelines=None),), ())
    _expect_error(lambda: _connector(sb.hubspot_url, "pat-na1-wrong").read_deals(query))
    for status in (400, 429, 500, 502, 503):
        sb.hubspot.fail_next(status, path_prefix="/crm/v3/objects/deals/search")
        _expect_error(lambda: _connector(sb.hubspot_url, sb.hubspot.access_token).read_deals(query))
    sb.hubspot.search_rate_per_second = 0.001
    connector = _connector(sb.hubspot_url, sb.hubspot.access_token)
    _expect_error(lambda: [connector.read_deals(query) for _ in range(3)])
    sb.hubspot.search_rate_per_second = None
    sb.hubspot.fail_next(500, path_prefix="/crm/v4/associations")
    _expect_error(lambda: _connector(sb.hubspot_url, sb.hubspot.access_token).read_deals(query))


def _schematic_errors(sb: Sandbox) -> None:
    """401 bad key, 404 unknown override, 400 refused write, 429 rate limit, 500."""
    with SchematicClient(Transport(sb.schematic_url, "sch_dev_wrong", attempts=1)) as wrong:
        _expect_error(wrong.list_features)
    with SchematicClient(Transport(sb.schematic_url, sb.schematic.api_key, attempts=1)) as client:
        client.delete_override(OverrideId("cmov_doesnotexist"))  # 404 is done
        for status in (400, 429, 500):
            # a 429 is retried until the deadline whatever `attempts` says: one asking for longer fails now
            sb.schematic.fail_next("GET", "/company-overrides", status, retry_after=60 if status == 429 else None)
            _expect_error(lambda: client.list_overrides([CompanyId("comp_acme")]))
        sb.schematic.fail_next("GET", "/plan-entitlements", 500)
        _expect_error(lambda: client.plan_entitlements("plvr_starter"))


def _emulator_only(sb: Sandbox) -> None:
    """Endpoints crmsync does not call, through the SDKs, so that every emulator answer is held to
    the spec; then a route no emulator serves."""
    client = hubspot.Client.create(access_token=sb.hubspot.access_token, host=sb.hubspot_url)
    client.crm.pipelines.pipelines_api.get_all("deals")
    client.crm.associations.v4.schema.definitions_api.get_all("deals", "companies")
    client.crm.deals.basic_api.get_page(limit=5, properties=["dealname"])
    client.crm.deals.basic_api.get_by_id("1001", properties=["dealname", "seats_purchased"])
    with contextlib.suppress(hubspot.crm.deals.ApiException):
        client.crm.deals.basic_api.get_by_id("999999")
    body = BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": "5001"}, {"id": "424242"}])
    client.crm.associations.v4.batch_api.get_page("companies", "deals", body)
    headers = {"X-Schematic-Api-Key": sb.schematic.api_key}
    with httpx.Client(base_url=sb.schematic_url, headers=headers) as http:
        for path in (
            "/companies/count",
            "/companies/comp_acme",
            "/companies/comp_hooli",
            "/companies/comp_umbrella",
            "/companies/comp_keyless",
            "/companies/comp_none",
            "/flags",
            "/features/feat_seats",
            "/features/feat_none",
            "/company-overrides/count",
        ):
            http.get(path)
        first = http.get("/company-overrides", params={"limit": 1}).json()["data"][0]["id"]
        http.get(f"/company-overrides/{first}")
        http.get("/no-such-route")
        http.patch("/company-overrides")
    with httpx.Client(base_url=sb.hubspot_url, headers={"Authorization": f"Bearer {sb.hubspot.access_token}"}) as http:
        http.get("/crm/v3/no-such-route")


__all__ = ["CRMSYNC_CALLS", "Recording", "record", "replace"]
