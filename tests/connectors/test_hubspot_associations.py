"""The HubSpot connector follows each id's own association paging (`inputs[].after`).

The sandbox's HubSpot emulator is set to one association per page, so every deal with two
companies and every company with several deals needs a second request carrying `after`.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from crmsync.connectors.base import DealQuery
from crmsync.connectors.hubspot import HubSpotConnector, HubSpotSettings
from crmsync.mapping.rules import DealFilter
from crmsync.sandbox import Sandbox

DEALS_TO_COMPANIES = "/crm/v4/associations/deals/companies/batch/read"
COMPANIES_TO_DEALS = "/crm/v4/associations/companies/deals/batch/read"
WON = DealQuery((DealFilter(stages=("closedwon",)),), ())


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    """The sample sandbox, answering one association per page."""
    sandbox = Sandbox()
    sandbox.hubspot.association_page_size = 1
    with sandbox:
        yield sandbox


@pytest.fixture
def connector(sb: Sandbox) -> Iterator[HubSpotConnector]:
    """The real connector pointed at the sandbox (settings as the e2e resilience tests use)."""
    hub = HubSpotConnector(
        HubSpotSettings(sb.hubspot_url, sb.hubspot.access_token, searches_per_second=0, backoff=0.01)
    )
    yield hub
    hub.close()


def continued(sb: Sandbox, path: str) -> list[tuple[str, str]]:
    """The (id, after) inputs of the association reads at `path` that continued an id's paging."""
    return [
        (str(i["id"]), i["after"])
        for r in sb.hubspot.requests
        if r.path == path
        for i in r.json["inputs"]
        if i.get("after")
    ]


def test_the_primary_company_is_found_when_companies_come_one_per_page(
    sb: Sandbox, connector: HubSpotConnector
) -> None:
    """Deal 1014 (companies 5001 primary, 5002) is read with 5001, after asking for its second page."""
    result = connector.read_deals(WON)
    assert {d.id: d.company_ref for d in result.deals}["1014"] == "5001"
    assert ("1014", "1") in continued(sb, DEALS_TO_COMPANIES)


def test_a_primary_company_on_a_later_page_is_found(sb: Sandbox, connector: HubSpotConnector) -> None:
    """A deal whose primary company comes second is still read with that company, not the first."""
    sb.hubspot.set_associations("1001", ["5001", "5003"], primary_company_id="5003")
    assert {d.id: d.company_ref for d in connector.read_deals(WON).deals}["1001"] == "5003"
    assert ("1001", "1") in continued(sb, DEALS_TO_COMPANIES)


def test_a_scoped_read_pages_through_a_company_s_deals(sb: Sandbox, connector: HubSpotConnector) -> None:
    """read_deals_of_companies follows each company's deal pages: 5001's six deals, one per request."""
    result = connector.read_deals_of_companies(WON, ["5001"])
    assert sorted(d.id for d in result.deals) == ["1001", "1002", "1014"]
    assert all(d.company_ref == "5001" for d in result.deals)
    assert [after for company, after in continued(sb, COMPANIES_TO_DEALS) if company == "5001"] == [
        "1",
        "2",
        "3",
        "4",
        "5",
    ]
    other = connector.read_deals_of_companies(WON, ["5002"])
    assert [d.id for d in other.deals] == ["1004"]  # 1014 belongs to its primary company, 5001


def test_each_result_pages_on_its_own_and_after_slices_it(sb: Sandbox) -> None:
    """`paging.next.after` is per result and only while more remain; `after` starts the slice there."""
    sb.hubspot.association_page_size = 2
    headers = {"Authorization": f"Bearer {sb.hubspot.access_token}"}
    with httpx.Client(base_url=sb.hubspot_url, headers=headers) as http:
        first = http.post(COMPANIES_TO_DEALS, json={"inputs": [{"id": "5001"}, {"id": "5006"}]}).json()
        rest = http.post(COMPANIES_TO_DEALS, json={"inputs": [{"id": "5001", "after": "4"}]}).json()
        bad = http.post(COMPANIES_TO_DEALS, json={"inputs": [{"id": "5001", "after": "x"}]})
    by_company = {r["from"]["id"]: r for r in first["results"]}
    assert [t["toObjectId"] for t in by_company["5001"]["to"]] == ["1001", "1002"]
    assert by_company["5001"]["paging"]["next"]["after"] == "2"
    assert [t["toObjectId"] for t in by_company["5006"]["to"]] == ["1012", "1020"]
    assert "paging" not in by_company["5006"]
    (last,) = rest["results"]
    assert [t["toObjectId"] for t in last["to"]] == ["1015", "1021"] and "paging" not in last
    assert bad.status_code == 400
