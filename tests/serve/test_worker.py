"""The intake worker on the sandbox: hints → companies (re-read from the CRM) → one reconcile per batch."""

from __future__ import annotations

import json
import time
from typing import Any

from crmsync.domain import CompanyId, Trigger
from crmsync.serving.worker import wait_idle
from crmsync.store.intake import NewEvent
from tests.serve.conftest import HUBSPOT_SECRET, ORG, SCHEMATIC_SECRET, Stack
from tests.serve.signing import hubspot_headers, outbound_message, schematic_headers


def deal_event(deal: str, kind: str = "deal.propertyChange", event_id: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "eventId": event_id, "subscriptionId": 1, "portalId": 62515, "occurredAt": int(time.time() * 1000),
        "subscriptionType": kind, "attemptNumber": 0, "objectId": int(deal), **extra,
    }  # fmt: skip


def post_hubspot(stack: Stack, events: list[dict[str, Any]]) -> None:
    body = json.dumps(events).encode()
    headers = hubspot_headers(HUBSPOT_SECRET, stack.url + "/webhooks/hubspot", body)
    answer = stack.client.post("/webhooks/hubspot", content=body, headers=headers)
    assert answer.status_code == 200, answer.text


def seats(stack: Stack, company: str) -> Any:
    override = stack.overrides(company).get("feat_seats")
    return override and override["value_numeric"]


def test_hints_for_three_deals_of_one_company_make_one_reconcile(stack: Stack) -> None:
    """Three deals of Acme changed: their company is re-read from HubSpot and reconciled once."""
    stack.intake.add_events([NewEvent("hubspot", "deal.propertyChange", d, f"k{d}") for d in ("1001", "1002", "1015")])
    stack.drain()
    assert stack.calls == [(frozenset({CompanyId("comp_acme")}), "webhook:hubspot")]


def test_a_signed_stage_change_makes_the_override_follow(running: Stack) -> None:
    """A deal moved to a counted stage, then its signed webhook: the override follows in Schematic."""
    assert seats(running, "comp_hooli") == 75  # what serve's start-up resync applied from the sample
    running.sb.hubspot.update_deal("1023", dealstage="closedwon", seats_purchased="300")
    post_hubspot(running, [deal_event("1023", propertyName="dealstage", propertyValue="closedwon")])
    assert wait_idle(running.intake, timeout=30)
    assert seats(running, "comp_hooli") == 300
    assert running.calls == [(frozenset({CompanyId("comp_hooli")}), "webhook:hubspot")]
    metrics = running.client.get("/metrics").text
    assert 'crmsync_changes_total{action="update",result="ok"}' in metrics
    assert 'crmsync_api_calls_total{service="hubspot",status="200"}' in metrics
    assert "crmsync_webhook_to_applied_seconds_count" in metrics
    assert running.client.get("/readyz").status_code == 200


def test_a_deleted_deal_reconciles_the_company_it_drove(stack: Stack) -> None:
    """A deleted deal's company comes from the ledger (the deal cannot be read any more)."""
    stack.sb.hubspot.update_deal("1023", dealstage="closedwon", seats_purchased="300")
    stack.intake.add_events([NewEvent("hubspot", "deal.propertyChange", "1023", "a")])
    stack.drain()
    assert seats(stack, "comp_hooli") == 300
    stack.sb.hubspot.archive_deal("1023")
    stack.intake.add_events([NewEvent("hubspot", "deal.deletion", "1023", "b")])
    stack.drain()
    assert seats(stack, "comp_hooli") == 75
    assert stack.calls[-1][0] == frozenset({CompanyId("comp_hooli")})


def test_an_association_change_reconciles_the_old_company_too(stack: Stack) -> None:
    """A deal moved to another company: both the company it left (from the payload) and the new one run."""
    stack.sb.hubspot.set_associations("1010", ["5004"])
    removed = deal_event("1010", "deal.associationChange", associationType="DEAL_TO_COMPANY",
                         fromObjectId=1010, toObjectId=5005, associationRemoved=True)  # fmt: skip
    post_hubspot(stack, [removed])
    stack.drain()
    assert stack.calls == [(frozenset({CompanyId("comp_hooli"), CompanyId("comp_umbrella")}), "webhook:hubspot")]


def test_an_outbound_message_makes_the_override_appear(running: Stack) -> None:
    """An Opportunity closed in Salesforce, its Outbound Message: the override follows, Account re-read by SOQL."""
    assert running.sb.salesforce is not None
    running.sb.salesforce.update_opportunity("006000000000105AAA", StageName="Closed Won", IsWon=True, IsClosed=True)
    body = outbound_message(ORG, [("04l000000000009AAA", "006000000000105AAA", "001000000000007AAA")])
    answer = running.client.post("/webhooks/salesforce", content=body, headers={"content-type": "text/xml"})
    assert answer.status_code == 200
    assert wait_idle(running.intake, timeout=30)
    assert seats(running, "comp_wayne") == 200


def test_a_manual_edit_is_healed_by_its_webhook(running: Stack) -> None:
    """An owned override edited by hand in Schematic is restored when Schematic's webhook arrives."""
    running.intake.enqueue_companies(["comp_hooli"], Trigger.OPS)
    running.worker.wake()
    assert wait_idle(running.intake, timeout=30)
    [(override_id, _)] = [(i, o) for i, o in running.sb.schematic.overrides.items()
                          if o["company_id"] == "comp_hooli" and o["feature_id"] == "feat_seats"]  # fmt: skip
    running.sb.schematic.update_override(override_id, {"value_numeric": 1})
    body = json.dumps({"action": "company.override.updated", "company_id": "comp_hooli",
                       "body": {"id": override_id, "company_id": "comp_hooli"}}).encode()  # fmt: skip
    answer = running.client.post("/webhooks/schematic", content=body, headers=schematic_headers(SCHEMATIC_SECRET, body))
    assert answer.status_code == 200
    assert wait_idle(running.intake, timeout=30)
    assert seats(running, "comp_hooli") == 75


def test_a_company_found_is_not_looked_up_again_for_a_minute_one_not_found_is(stack: Stack) -> None:
    """Under a burst many hints name one company: Schematic is asked once which company carries its
    key; a key no company carries is asked again next batch (the company may have been created since)."""

    def lookups() -> int:
        return sum(1 for r in stack.sb.schematic.requests if r.path == "/companies/lookup")

    before = lookups()
    stack.intake.add_events([NewEvent("hubspot", "deal.propertyChange", "1001", "a1")])
    stack.drain()
    asked = lookups() - before
    assert asked >= 1
    stack.intake.add_events([NewEvent("hubspot", "deal.propertyChange", "1002", "a2")])  # Acme's again
    stack.drain()
    assert lookups() - before == asked  # remembered
    resolver = stack.worker.resolver
    resolver.clock = lambda: time.monotonic() + 61  # a minute later it is asked again
    stack.intake.add_events([NewEvent("hubspot", "deal.propertyChange", "1001", "a3")])
    stack.drain()
    assert lookups() - before > asked
    assert resolver._schematic_company(["hubspot_company_id"], "no-such-company") is None
    assert resolver._schematic_company(["hubspot_company_id"], "no-such-company") is None
    misses = sum(1 for r in stack.sb.schematic.requests if r.path == "/companies/lookup" and r.status == 404)
    assert misses == 1  # within one batch a miss is remembered ...
    resolver._missing.clear()  # ... and forgotten at the next (as `_companies` does)
    assert resolver._schematic_company(["hubspot_company_id"], "no-such-company") is None
    assert sum(1 for r in stack.sb.schematic.requests if r.path == "/companies/lookup" and r.status == 404) == 2
