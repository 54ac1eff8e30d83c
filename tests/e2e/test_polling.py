"""The polling fallback: each CRM's changed deals since a stored cursor become hints, through the
real connectors over loopback, and the cursor moves only once they are queued."""

from __future__ import annotations

from crmsync.app import open_context
from crmsync.connectors.base import Changes
from crmsync.domain import Source
from crmsync.mapping.loader import load_mappings
from crmsync.serving.polling import cursor_name, poll
from tests.e2e.conftest import Harness

WAYNE_OPP = "006000000000102AAA"


def polled(h: Harness, *, overlap: float = 0.0) -> dict[Source, set[str]]:
    """One poll of every source the sample maps; the deal ids each queued."""
    queued: dict[Source, set[str]] = {}

    def queue(changes: Changes) -> None:
        queued.setdefault(changes.source, set()).update(changes.deal_ids)

    with open_context(h.settings, load_mappings(h.settings.mappings)) as ctx:
        poll(ctx.store, ctx.connectors, queue, overlap=overlap)
    return queued


def test_the_first_poll_only_sets_the_cursors(harness: Harness) -> None:
    """With no cursor yet nothing is queued (the startup reconcile covers the past); both cursors are stored."""
    assert polled(harness) == {}
    with open_context(harness.settings, load_mappings(harness.settings.mappings)) as ctx:
        assert ctx.store.cursor(cursor_name(Source.HUBSPOT)) and ctx.store.cursor(cursor_name(Source.SALESFORCE))


def test_a_deal_closed_after_the_cursor_is_queued_from_each_crm(harness: Harness) -> None:
    """A HubSpot deal moved to a won stage and an opportunity lost since the last poll are both hints."""
    polled(harness)
    harness.sb.hubspot.update_deal("1010", dealstage="closedwon", seats_purchased="77")
    harness.sb.salesforce.update_opportunity(WAYNE_OPP, StageName="Closed Lost", IsWon=False)  # type: ignore[union-attr]
    queued = polled(harness)
    assert "1010" in queued[Source.HUBSPOT]
    assert WAYNE_OPP in queued[Source.SALESFORCE]


def test_a_change_older_than_the_cursor_is_not_queued_again_without_overlap(harness: Harness) -> None:
    """Once the cursor moved past a change, a poll with no overlap does not see it again."""
    polled(harness)
    harness.sb.hubspot.update_deal("1010", seats_purchased="78")
    assert "1010" in polled(harness)[Source.HUBSPOT]
    harness.sb.hubspot.update_deal("1011", seats_purchased="5")
    second = polled(harness)
    assert "1011" in second[Source.HUBSPOT]


def test_a_failing_source_keeps_its_cursor_and_does_not_stop_the_other(harness: Harness) -> None:
    """HubSpot answering 500s: its cursor stays where it was, Salesforce is still polled."""
    polled(harness)
    with open_context(harness.settings, load_mappings(harness.settings.mappings)) as ctx:
        before = ctx.store.cursor(cursor_name(Source.HUBSPOT))
    harness.sb.salesforce.update_opportunity(WAYNE_OPP, Seats__c=12)  # type: ignore[union-attr]
    harness.sb.hubspot.fail_next(500, times=50, path_prefix="/crm/v3/objects/deals/search")
    queued = polled(harness)
    assert Source.HUBSPOT not in queued and WAYNE_OPP in queued[Source.SALESFORCE]
    with open_context(harness.settings, load_mappings(harness.settings.mappings)) as ctx:
        assert ctx.store.cursor(cursor_name(Source.HUBSPOT)) == before
