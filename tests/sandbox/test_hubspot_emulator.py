"""The HubSpot emulator, driven by the real hubspot-api-client over loopback.

Read-only tests share one sandbox with the sample data (and one with 12,000 deals); tests
that mutate state get a fresh emulator of their own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import hubspot
import pytest
from hubspot.crm.associations.v4 import (
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.deals import (
    ApiException,
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectId,
)

from crmsync.sandbox import HubSpotState, Sandbox, SandboxData
from crmsync.sandbox.hubspot_search import encode_cursor
from crmsync.sandbox.serve import ServedApp

TIMEOUT = (3, 10)


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    """The sample sandbox, shared by the read-only tests of this module."""
    with Sandbox() as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def big() -> Iterator[Sandbox]:
    """A sandbox with 12,000 closed-won deals sharing one hs_lastmodifieddate."""
    sandbox = Sandbox(SandboxData())
    for _ in range(12_000):
        sandbox.hubspot.add_deal(properties={"dealstage": "closedwon", "hs_lastmodifieddate": "2026-01-01T00:00:00Z"})
    with sandbox:
        yield sandbox


def client(url: str, token: str) -> Any:
    """The real SDK pointed at the emulator."""
    return hubspot.Client.create(access_token=token, host=url)


def search(url: str, token: str, **request: Any) -> Any:
    """One search through the SDK."""
    api = client(url, token).crm.deals.search_api
    return api.do_search(public_object_search_request=PublicObjectSearchRequest(**request), _request_timeout=TIMEOUT)


def eq(prop: str, op: str, value: str | None = None, **more: Any) -> dict[str, Any]:
    """One filter as JSON."""
    return {"propertyName": prop, "operator": op, **({"value": value} if value is not None else {}), **more}


def ids_of(url: str, token: str, *filters: dict[str, Any], **request: Any) -> list[str]:
    """The ids one search returns (up to 200)."""
    result = search(url, token, filter_groups=[{"filters": list(filters)}], limit=200, **request)
    return [r.id for r in result.results]


def test_seeding_12000_deals_keeps_every_one() -> None:
    """add_deal seeds 12,000 deals, each under its own id (its speed is a benchmark's business)."""
    state = HubSpotState()
    for _ in range(12_000):
        state.add_deal(properties={"dealstage": "closedwon"})
    assert len(state.deals) == 12_000


def test_search_pages_follow_after_and_the_last_page_has_no_paging(sb: Sandbox) -> None:
    """Paging with `after` visits every deal once; `paging` is absent on the last page."""
    seen, after, pages = [], None, 0
    while True:
        result = search(sb.hubspot_url, sb.hubspot.access_token, limit=10, after=after)
        pages += 1
        seen += [r.id for r in result.results]
        assert result.total == 24
        if result.paging is None:
            break
        after = result.paging.next.after
    assert pages == 3
    assert seen == [str(n) for n in range(1001, 1025)]


def test_search_refuses_to_page_past_10000_results(big: Sandbox) -> None:
    """after + limit may reach 10,000 but not pass it: then HubSpot answers 400."""
    token = big.hubspot.access_token
    last_page = search(big.hubspot_url, token, limit=200, after=encode_cursor(9800))
    assert len(last_page.results) == 200
    assert last_page.paging.next.after == encode_cursor(10_000)
    for after, limit in ((encode_cursor(10_000), 200), (encode_cursor(9900), 200), (encode_cursor(9999), 2)):
        with pytest.raises(ApiException) as caught:
            search(big.hubspot_url, token, limit=limit, after=after)
        assert caught.value.status == 400
        assert json.loads(caught.value.body)["category"] == "VALIDATION_ERROR"


def test_hs_object_id_windowing_returns_every_deal(big: Sandbox) -> None:
    """Windows of hs_object_id GT last id, restarted before 10,000, return all 12,000 deals."""
    token, found, last_id, after, in_window = big.hubspot.access_token, [], "0", None, 0
    sorts = [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
    while True:
        result = search(
            big.hubspot_url,
            token,
            limit=200,
            after=after,
            sorts=sorts,
            filter_groups=[{"filters": [eq("hs_object_id", "GT", last_id)]}],
        )
        found += [r.id for r in result.results]
        in_window += len(result.results)
        if result.paging is None:
            break
        if in_window + 200 > 10_000:  # the cursor is opaque: count what this window has read
            last_id, after, in_window = result.results[-1].id, None, 0
        else:
            after = result.paging.next.after
    assert len(found) == 12_000
    assert len(set(found)) == 12_000


def test_in_filter_matches_any_value(sb: Sandbox) -> None:
    """IN matches deals whose property equals one of the values."""
    found = ids_of(
        sb.hubspot_url,
        sb.hubspot.access_token,
        eq("dealstage", "IN", values=["closedwon", "ent_won"]),
        eq("seats_purchased", "HAS_PROPERTY"),
    )
    assert found == ["1001", "1002", "1004", "1006", "1008", "1010", "1011", "1012", "1013"]


def test_in_and_not_in_compare_the_lowercased_stored_value_with_values_as_sent(
    fresh: tuple[HubSpotState, ServedApp],
) -> None:
    """IN / NOT_IN lowercase the stored value only: `ClosedWon` sent never matches, even a stored `ClosedWon`."""
    state, served = fresh
    state.add_deal("4242", properties={"dealstage": "ClosedWon", "pipeline": "default"})
    token = state.access_token
    assert ids_of(served.url, token, eq("dealstage", "IN", values=["ClosedWon"])) == []
    assert "4242" in ids_of(served.url, token, eq("dealstage", "IN", values=["closedwon"]))
    assert "1001" not in ids_of(served.url, token, eq("dealstage", "NOT_IN", values=["closedwon"]))
    assert "1001" in ids_of(served.url, token, eq("dealstage", "NOT_IN", values=["ClosedWon"]))


def test_search_cursors_are_opaque_and_a_number_is_refused(sb: Sandbox) -> None:
    """`paging.next.after` is not a number (the spec's example is `NTI1Cg%3D%3D`); sending one is a 400."""
    page = search(sb.hubspot_url, sb.hubspot.access_token, limit=10)
    assert page.paging.next.after == encode_cursor(10) and not page.paging.next.after.isdigit()
    with pytest.raises(ApiException) as caught:
        search(sb.hubspot_url, sb.hubspot.access_token, limit=10, after="10")
    assert caught.value.status == 400


def test_an_unserved_route_answers_hubspot_error_json(sb: Sandbox) -> None:
    """A path the emulator does not serve answers 404 in HubSpot's error JSON, not plain text."""
    answer = httpx.get(f"{sb.hubspot_url}/crm/v3/objects/tickets", timeout=TIMEOUT)
    assert answer.status_code == 404 and answer.json()["category"] == "OBJECT_NOT_FOUND"
    assert set(answer.json()) >= {"status", "message", "correlationId"}


def test_eq_filters_in_one_group_are_anded_and_groups_are_ored(sb: Sandbox) -> None:
    """Filters in a group AND together; groups OR."""
    token = sb.hubspot.access_token
    result = search(
        sb.hubspot_url,
        token,
        limit=50,
        filter_groups=[
            {"filters": [eq("pipeline", "EQ", "enterprise"), eq("dealstage", "EQ", "ent_won")]},
            {"filters": [eq("hs_object_id", "EQ", "1013")]},
        ],
    )
    assert [r.id for r in result.results] == ["1006", "1013"]


def test_gt_compares_numbers_as_numbers(sb: Sandbox) -> None:
    """GT on a numeric value compares numerically ("9000" is not greater than "10000")."""
    found = ids_of(sb.hubspot_url, sb.hubspot.access_token, eq("amount", "GT", "100000"))
    assert found == ["1003", "1006", "1007", "1019", "1024"]


def test_date_filters_accept_epoch_ms_and_iso(sb: Sandbox) -> None:
    """closedate compares as a date whether the filter value is epoch ms or ISO 8601."""
    december = int(datetime(2026, 12, 1, tzinfo=UTC).timestamp() * 1000)
    token = sb.hubspot.access_token
    by_ms = ids_of(sb.hubspot_url, token, eq("closedate", "GTE", str(december)))
    by_iso = ids_of(sb.hubspot_url, token, eq("closedate", "GTE", "2026-12-01T00:00:00Z"))
    between = ids_of(sb.hubspot_url, token, eq("closedate", "BETWEEN", "2026-01-01", highValue="2026-02-10"))
    assert by_ms == by_iso == ["1022", "1023", "1024"]
    assert between == ["1001", "1002"]


def test_sorts_descending_by_a_property(sb: Sandbox) -> None:
    """A DESCENDING sort orders results by that property, numbers as numbers."""
    result = search(
        sb.hubspot_url, sb.hubspot.access_token, limit=3, sorts=[{"propertyName": "amount", "direction": "DESCENDING"}]
    )
    assert [r.properties["amount"] for r in result.results] == ["400000", "250000", "180000"]


def test_only_requested_properties_come_back_as_strings(sb: Sandbox) -> None:
    """The response holds the requested properties plus id, createdate and lastmodified; all strings."""
    result = search(sb.hubspot_url, sb.hubspot.access_token, limit=1, properties=["seats_purchased", "dealstage"])
    props = result.results[0].properties
    assert set(props) == {"seats_purchased", "dealstage", "hs_object_id", "createdate", "hs_lastmodifieddate"}
    assert all(isinstance(v, str) for v in props.values())


def test_filter_and_limit_bounds_are_400(sb: Sandbox) -> None:
    """6 groups, 11 filters in a group, 26 filters, or limit 201 are rejected with 400."""
    token, f = sb.hubspot.access_token, eq("dealstage", "EQ", "closedwon")
    bad: list[dict[str, Any]] = [
        {"filter_groups": [{"filters": [f]}] * 6},
        {"filter_groups": [{"filters": [f] * 11}]},
        {"filter_groups": [{"filters": [f] * 9}] * 3},
        {"limit": 201},
    ]
    for request in bad:
        with pytest.raises(ApiException) as caught:
            search(sb.hubspot_url, token, **request)
        assert caught.value.status == 400


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}], ids=["no-token", "bad-token"])
def test_requests_without_a_valid_token_get_401(sb: Sandbox, headers: dict[str, str]) -> None:
    """A missing or wrong bearer token is a 401 with HubSpot's standard error body."""
    response = httpx.post(f"{sb.hubspot_url}/crm/v3/objects/deals/search", json={}, headers=headers)
    assert response.status_code == 401
    assert response.json()["category"] == "INVALID_AUTHENTICATION"
    assert {"status", "message", "correlationId"} <= set(response.json())


def test_sdk_with_a_wrong_token_raises_unauthorized(sb: Sandbox) -> None:
    """The SDK surfaces the emulator's 401 as its UnauthorizedException."""
    with pytest.raises(ApiException) as caught:
        search(sb.hubspot_url, "pat-wrong", limit=1)
    assert caught.value.status == 401


def test_search_over_the_rate_gets_429_rate_limit_without_retry_after(fresh: tuple[HubSpotState, ServedApp]) -> None:
    """Past search_rate_per_second, search answers 429 RATE_LIMIT and sends no Retry-After."""
    state, served = fresh
    state.search_rate_per_second = 2
    headers = {"Authorization": f"Bearer {state.access_token}"}
    with httpx.Client(base_url=served.url, headers=headers) as http:
        statuses = [http.post("/crm/v3/objects/deals/search", json={}) for _ in range(4)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited
    assert limited[0].json()["errorType"] == "RATE_LIMIT"
    assert "retry-after" not in limited[0].headers


def test_association_batch_read_labels_the_primary_company(sb: Sandbox) -> None:
    """Deal 1014's primary company carries typeId 5 "Primary"; the other only typeId 341."""
    api = client(sb.hubspot_url, sb.hubspot.access_token).crm.associations.v4.batch_api
    request = BatchInputPublicFetchAssociationsBatchRequest(
        inputs=[PublicFetchAssociationsBatchRequest(id="1014"), PublicFetchAssociationsBatchRequest(id="1001")]
    )
    result = api.get_page(
        from_object_type="deals",
        to_object_type="companies",
        batch_input_public_fetch_associations_batch_request=request,
        _request_timeout=TIMEOUT,
    )
    by_deal = {
        r._from.id: {t.to_object_id: {(a.type_id, a.label) for a in t.association_types} for t in r.to}
        for r in result.results
    }
    assert by_deal["1014"] == {"5001": {(5, "Primary"), (341, None)}, "5002": {(341, None)}}
    assert by_deal["1001"] == {"5001": {(5, "Primary"), (341, None)}}


def test_association_batch_read_reports_deals_without_companies(sb: Sandbox) -> None:
    """A deal with no company comes back as an error in a 207."""
    response = httpx.post(
        f"{sb.hubspot_url}/crm/v4/associations/deals/companies/batch/read",
        json={"inputs": [{"id": "1013"}, {"id": "1002"}]},
        headers={"Authorization": f"Bearer {sb.hubspot.access_token}"},
    )
    assert response.status_code == 207
    assert [r["from"]["id"] for r in response.json()["results"]] == ["1002"]
    assert response.json()["errors"][0]["context"]["fromObjectId"] == ["1013"]


def test_association_batch_read_over_1000_inputs_is_400(sb: Sandbox) -> None:
    """More than 1,000 ids in one association batch read is a 400."""
    response = httpx.post(
        f"{sb.hubspot_url}/crm/v4/associations/deals/companies/batch/read",
        json={"inputs": [{"id": str(n)} for n in range(1001)]},
        headers={"Authorization": f"Bearer {sb.hubspot.access_token}"},
    )
    assert response.status_code == 400


def test_batch_read_returns_known_deals_and_207_errors_for_unknown(sb: Sandbox) -> None:
    """Batch read returns the known deals; unknown ids make it a 207 with errors."""
    api = client(sb.hubspot_url, sb.hubspot.access_token).crm.deals.batch_api
    request = BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id="1001"), SimplePublicObjectId(id="999999")],
        properties=["dealname"],
        properties_with_history=[],
    )
    result = api.read(batch_read_input_simple_public_object_id=request, _request_timeout=TIMEOUT)
    assert [r.id for r in result.results] == ["1001"]
    assert result.errors[0].context["ids"] == ["999999"]


def test_pipelines_list_stages_with_closed_and_probability(sb: Sandbox) -> None:
    """GET /crm/v3/pipelines/deals lists both pipelines with isClosed and probability."""
    response = httpx.get(
        f"{sb.hubspot_url}/crm/v3/pipelines/deals", headers={"Authorization": f"Bearer {sb.hubspot.access_token}"}
    )
    pipelines = {p["id"]: {s["id"]: s["metadata"] for s in p["stages"]} for p in response.json()["results"]}
    assert set(pipelines) == {"default", "enterprise"}
    assert pipelines["enterprise"]["ent_won"] == {"isClosed": "true", "probability": "1.0"}
    assert pipelines["default"]["contractsent"]["isClosed"] == "false"


def test_closed_won_is_derived_from_the_pipeline_stage(sb: Sandbox) -> None:
    """hs_is_closed_won is "true" for won stages of any pipeline, as HubSpot computes it."""
    found = ids_of(sb.hubspot_url, sb.hubspot.access_token, eq("hs_is_closed_won", "EQ", "true"))
    assert "1006" in found and "1007" not in found and "1003" not in found
    assert len(found) == 11


def test_list_endpoint_pages_through_the_sdk(sb: Sandbox) -> None:
    """The SDK's get_all follows the list endpoint's paging over every deal."""
    deals = client(sb.hubspot_url, sb.hubspot.access_token).crm.deals.get_all(properties=["dealname"])
    assert [d.id for d in deals] == [str(n) for n in range(1001, 1025)]


def test_update_bumps_last_modified_and_archive_hides_the_deal(fresh: tuple[HubSpotState, ServedApp]) -> None:
    """update_deal moves hs_lastmodifieddate to the clock; archived deals leave search."""
    state, served = fresh
    state.clock = lambda: datetime(2030, 1, 1, tzinfo=UTC)
    state.update_deal("1002", seats_purchased="35")
    state.archive_deal("1003")
    token = state.access_token
    changed = ids_of(served.url, token, eq("hs_lastmodifieddate", "GTE", "2029-12-31T00:00:00Z"))
    assert changed == ["1002"]
    assert "1003" not in ids_of(served.url, token, eq("dealstage", "HAS_PROPERTY"))
    second = search(served.url, token, limit=1, after=encode_cursor(1), properties=["seats_purchased"])
    assert second.results[0].properties["seats_purchased"] == "35"


def test_new_deals_get_the_next_numeric_id(fresh: tuple[HubSpotState, ServedApp]) -> None:
    """add_deal without an id picks the next number and sets hs_object_id."""
    state, _ = fresh
    new_id = state.add_deal(properties={"dealname": "New"}, company_ids=["5001"])
    assert new_id == "1025"
    assert state.deals[new_id].properties["hs_object_id"] == "1025"


def test_injected_failure_answers_once_then_recovers(fresh: tuple[HubSpotState, ServedApp]) -> None:
    """fail_next answers HubSpot-shaped errors for the given count, then normal service resumes."""
    state, served = fresh
    state.fail_next(503, times=1, path_prefix="/crm/v3/objects/deals/search")
    state.fail_next(429, path_prefix="/crm/v4", retry_after=2)
    headers = {"Authorization": f"Bearer {state.access_token}"}
    with httpx.Client(base_url=served.url, headers=headers) as http:
        first = http.post("/crm/v3/objects/deals/search", json={})
        second = http.post("/crm/v3/objects/deals/search", json={})
        limited = http.post("/crm/v4/associations/deals/companies/batch/read", json={"inputs": []})
    assert (first.status_code, second.status_code) == (503, 200)
    assert first.json()["status"] == "error"
    assert limited.json()["policyName"] == "TEN_SECONDLY_ROLLING" and limited.headers["retry-after"] == "2"


def test_requests_are_recorded_with_their_bodies(fresh: tuple[HubSpotState, ServedApp]) -> None:
    """Every request is logged with method, path, query, JSON body and status."""
    state, served = fresh
    search(served.url, state.access_token, limit=5, properties=["dealname"])
    recorded = state.requests[-1]
    assert (recorded.method, recorded.path, recorded.status) == ("POST", "/crm/v3/objects/deals/search", 200)
    assert recorded.json["limit"] == 5 and recorded.json["properties"] == ["dealname"]
