"""A user's bad day: big CRMs, flaky APIs, lost responses."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from crmsync.app import open_context
from crmsync.connectors.base import DealQuery
from crmsync.connectors.hubspot import HubSpotConnector, HubSpotSettings
from crmsync.mapping.loader import load_mappings
from crmsync.mapping.rules import DealFilter
from crmsync.schematic.client import SchematicClient
from crmsync.schematic.transport import Transport
from crmsync.service.planning import build_plan
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import invoke, overrides_per_pair


def connector(h: Harness) -> HubSpotConnector:
    return HubSpotConnector(
        HubSpotSettings(h.sb.hubspot_url, h.sb.hubspot.access_token, searches_per_second=0, backoff=0.01)
    )


def test_more_than_ten_thousand_matching_deals_are_all_read(harness: Harness) -> None:
    """12,000 won deals (past HubSpot's 10,000-result search cap) are all read, each once."""
    for n in range(12_000):
        harness.sb.hubspot.add_deal(
            str(100_000 + n),
            properties={"dealstage": "closedwon", "pipeline": "default", "seats_purchased": "1"},
            company_ids=["5001"],
        )
    result = connector(harness).read_deals(DealQuery((DealFilter(stages=("closedwon",)),), ("seats_purchased",)))
    ids = [d.id for d in result.deals]
    assert len(ids) == len(set(ids)) and sum(1 for i in ids if int(i) >= 100_000) == 12_000
    assert all(d.company_ref == "5001" for d in result.deals if int(d.id) >= 100_000)


def test_deals_read_with_their_primary_company(harness: Harness) -> None:
    """A deal associated with two companies belongs to its primary one."""
    result = connector(harness).read_deals(DealQuery((DealFilter(stages=("closedwon",)),), ()))
    assert {d.id: d.company_ref for d in result.deals}["1014"] == "5001"


def test_a_hubspot_rate_limit_is_retried(harness: Harness) -> None:
    """Two 429s on search are retried and the read completes."""
    search = "/crm/v3/objects/deals/search"
    harness.sb.hubspot.fail_next(429, times=2, path_prefix=search)
    result = connector(harness).read_deals(DealQuery((DealFilter(stages=("closedwon",)),), ()))
    assert result.complete and len(result.deals) > 0
    answered = [r.status for r in harness.sb.hubspot.requests if r.path == search]
    assert answered[:3] == [429, 429, 200], answered  # both 429s were sent, then the retry succeeded


def test_schematic_429_honours_retry_after(harness: Harness) -> None:
    """A 429 with Retry-After is waited out, then the request succeeds."""
    harness.sb.schematic.fail_next("GET", "/features", 429, retry_after=0.5)
    started = time.monotonic()
    with SchematicClient(Transport(harness.sb.schematic_url, harness.sb.schematic.api_key)) as client:
        assert len(client.list_features()) == 4
    assert time.monotonic() - started >= 0.5


def test_a_create_whose_response_was_lost_is_not_duplicated(harness: Harness) -> None:
    """The sandbox commits a create but answers too late; retries and the next run leave exactly one override."""
    harness.sb.schematic.hang_after_commit("POST", "/company-overrides", seconds=2.0, times=1)
    harness.settings = replace(harness.settings, schematic=replace(harness.settings.schematic, timeout=0.5))
    _, first = harness.apply()
    assert first.ok, first.failed  # the timed-out create was found by its token, not reported failed
    harness.settings = replace(harness.settings, schematic=replace(harness.settings.schematic, timeout=10.0))
    time.sleep(1.6)  # let the hung response finish
    _, second = harness.apply()
    assert second.ok
    counts = overrides_per_pair(harness)
    assert all(n == 1 for n in counts.values()), counts
    assert len(counts) == 11  # 10 created + the manual one
    assert harness.plan().plan.is_empty


@pytest.mark.parametrize("status", [500, 503])
def test_a_failed_update_is_reported_and_the_rest_proceed(harness: Harness, status: int) -> None:
    """One change fails with the API's message; the others succeed; the next run retries it."""
    harness.apply()
    harness.sb.hubspot.update_deal("1001", seats_purchased="99")
    harness.sb.hubspot.update_deal("1010", seats_purchased="99")
    harness.sb.schematic.fail_next("PUT", "/company-overrides", status, times=1)
    harness.settings = replace(harness.settings, schematic=replace(harness.settings.schematic, attempts=1))
    _, report = harness.apply()
    assert len(report.failed) == 1 and str(status) in report.failed[0].message
    assert [r.ok for r in report.results].count(True) == 1
    _, retry = harness.apply()
    assert retry.ok and len(retry.results) == 1


def test_a_company_scoped_read_uses_associations_not_search(harness: Harness) -> None:
    """Deals of some companies come from company→deal associations and a batch read, never a search."""
    result = connector(harness).read_deals_of_companies(
        DealQuery((DealFilter(stages=("closedwon",)),), ("seats_purchased",)), ["5002"]
    )
    assert [(d.id, d.company_ref) for d in result.deals] == [("1004", "5002")]  # 1014 is Acme's (primary)
    paths = {r.path for r in harness.sb.hubspot.requests}
    assert "/crm/v3/objects/deals/search" not in paths
    assert "/crm/v4/associations/companies/deals/batch/read" in paths


def test_a_scoped_plan_touches_only_its_companies(harness: Harness) -> None:
    """A reconcile scoped to Acme plans Acme's overrides only and reports no one else as pending."""
    maps = load_mappings(harness.settings.mappings)
    with open_context(harness.settings, maps) as ctx:
        run = build_plan(ctx, maps, scope={"comp_acme"})  # type: ignore[arg-type]
    assert {c.company_id for c in run.plan.changes} == {"comp_acme"} and len(run.plan.changes) == 3
    assert run.plan.pending == () and run.plan.problems == ()
    seats = next(c for c in run.plan.changes if c.feature_id == "feat_seats")
    assert seats.after is not None and {s.value for s, _ in seats.after.provenance.deals} == {"hubspot", "salesforce"}


def test_a_create_whose_connection_drops_after_commit_is_not_duplicated(harness: Harness) -> None:
    """The sandbox commits a create then drops the connection mid-answer: exactly one override results."""
    harness.sb.schematic.drop_after_commit("POST", "/company-overrides", times=2)
    _, first = harness.apply()
    assert first.ok, first.failed
    posts = [r for r in harness.sb.schematic.requests if r.method == "POST"]
    assert len(posts) == 10  # one POST per create: a create whose answer was lost is never re-sent
    counts = overrides_per_pair(harness)
    assert set(counts.values()) == {1} and len(counts) == 11
    assert harness.plan().plan.is_empty


def test_a_schematic_answer_without_data_is_one_line_naming_the_request(harness: Harness) -> None:
    """A company lookup answered 200 but without `data`: exit 1, one line naming the request and
    SCHEMATIC_API_URL, not "a bug in crmsync"."""
    harness.sb.schematic.fail_next("GET", "/companies/lookup", 200)
    result = invoke(harness, "explain", "hubspot_company_id=5001")
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert "Schematic API: unreadable response to GET /companies/lookup" in line and "SCHEMATIC_API_URL" in line
    assert "bug in crmsync" not in line


def test_an_override_with_an_unreadable_timestamp_stops_the_plan_with_one_line(harness: Harness) -> None:
    """A listed override whose expiration date is not a timestamp: plan exits 1 naming the request, writes nothing."""
    (manual,) = harness.sb.schematic.overrides_for("comp_globex", "feat_seats")
    harness.sb.schematic.update_override(manual["id"], {"expiration_date": "end of next quarter"})
    result = invoke(harness, "apply", "--yes")
    assert result.exit_code == 1 and "unreadable response to GET /company-overrides" in result.output, result.output
    assert "bug in crmsync" not in result.output and harness.sb.schematic.write_count == 0
