"""Streamed reads: with a page sink, each connector hands its deals over page by page and keeps none,
with the same deals, companies and API calls as a read that keeps them; a partial read stays partial."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from crmsync.connectors.base import DealQuery
from crmsync.connectors.hubspot import HubSpotConnector, HubSpotSettings
from crmsync.domain import Deal
from crmsync.mapping.rules import DealFilter
from crmsync.sandbox import Sandbox
from tests.benchmarks.reconcile import data
from tests.salesforce_fixtures import ACME, EmulatorServer, RunningOrg, seed_accounts, seed_custom_fields

HUBSPOT_WON = DealQuery((DealFilter(stages=("closedwon",)),), ("seats_purchased",))
SALESFORCE_WON = DealQuery((DealFilter(stages=("Closed Won",)),), ("Amount",))
ASSOCIATIONS = "/crm/v4/associations/deals/companies/batch/read"


class Pages:
    """A page sink that remembers what it was handed."""

    def __init__(self) -> None:
        self.pages: list[list[Deal]] = []

    def __call__(self, deals: Sequence[Deal]) -> None:
        self.pages.append(list(deals))

    def deals(self) -> dict[str, str | None]:
        return {d.id: d.company_ref for page in self.pages for d in page}


@pytest.fixture
def hubspot() -> Iterator[tuple[Sandbox, HubSpotConnector]]:
    """2,500 won deals over 10 companies, and the real connector on them."""
    with Sandbox(data(2_500, 10)) as sb:
        connector = HubSpotConnector(HubSpotSettings(sb.hubspot_url, sb.hubspot.access_token, searches_per_second=0))
        yield sb, connector
        connector.close()


def test_hubspot_hands_deals_over_one_association_batch_at_a_time(hubspot: tuple[Sandbox, HubSpotConnector]) -> None:
    """Pages of 1,000 (one association read each), the deals and companies of a kept read, the same calls."""
    sb, connector = hubspot
    kept = connector.read_deals(HUBSPOT_WON)
    calls = len(sb.hubspot.requests)
    sink = Pages()
    streamed = connector.read_deals(HUBSPOT_WON, sink)
    assert [len(p) for p in sink.pages] == [1_000, 1_000, 500]
    assert sink.deals() == {d.id: d.company_ref for d in kept.deals} and len(kept.deals) == 2_500
    assert (streamed.deals, streamed.requests) == ((), kept.requests)
    assert len(sb.hubspot.requests) - calls == calls  # the same calls, again
    assert sum(r.path == ASSOCIATIONS for r in sb.hubspot.requests) == 2 * 3


@pytest.fixture
def org(salesforce_server: EmulatorServer) -> Iterator[RunningOrg]:
    with salesforce_server.org() as running:
        seed_accounts(running.state)
        seed_custom_fields(running.state)
        yield running


def won(count: int) -> list[dict[str, Any]]:
    return [{"IsWon": True, "StageName": "Closed Won", "AccountId": ACME} for _ in range(count)]


def test_salesforce_hands_each_query_page_over(org: RunningOrg) -> None:
    """4,500 opportunities: three pages handed over (2,000, 2,000, 500), none kept, as a kept read."""
    org.state.add_opportunities(won(4_500))
    kept = org.connector().read_deals(SALESFORCE_WON)
    sink = Pages()
    streamed = org.connector().read_deals(SALESFORCE_WON, sink)
    assert [len(p) for p in sink.pages] == [2_000, 2_000, 500]
    assert sink.deals() == {d.id: d.company_ref for d in kept.deals}
    assert (streamed.deals, streamed.complete, streamed.requests) == ((), True, kept.requests)


def test_a_streamed_salesforce_read_cut_short_is_partial(org: RunningOrg) -> None:
    """REQUEST_LIMIT_EXCEEDED after two pages: the 4,000 deals handed over, the read marked partial."""
    org.state.add_opportunities(won(4_500))
    org.state.request_limit = 2
    sink = Pages()
    result = org.connector().read_deals(SALESFORCE_WON, sink)
    assert (len(sink.deals()), result.complete) == (4_000, False)
    assert "REQUEST_LIMIT_EXCEEDED" in result.problem
