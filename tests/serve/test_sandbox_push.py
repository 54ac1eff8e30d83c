"""The emulators push like the real services, into crmsync's own endpoints, and the overrides follow."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crmsync.sandbox import Sandbox
from crmsync.sandbox.serve import serve_app
from crmsync.sandbox.webhook_push import Subscriptions
from tests.serve.conftest import HUBSPOT_SECRET, SCHEMATIC_SECRET, Stack


@pytest.fixture
def pushed(running: Stack) -> Iterator[Stack]:
    """The running stack with every emulator subscribed to its endpoints (secrets the app knows)."""
    running.sb.webhooks = Subscriptions(HUBSPOT_SECRET, SCHEMATIC_SECRET)
    running.sb.subscribe(running.url)
    yield running
    running.sb.webhooks.stop()


def settle(stack: Stack, timeout: float = 30) -> None:
    """Wait until no webhook is in flight and the intake is empty, three looks in a row."""
    end, calm = time.monotonic() + timeout, 0
    while calm < 3:
        assert time.monotonic() < end, "still busy"
        depth = stack.intake.depth()
        calm = calm + 1 if stack.sb.webhooks.idle() and depth.events == depth.companies == 0 else 0
        time.sleep(0.05)


def seats(stack: Stack, company: str) -> object:
    override = stack.overrides(company).get("feat_seats")
    return override and override["value_numeric"]


def test_a_hubspot_deal_closing_pushes_a_signed_webhook_and_the_override_follows(pushed: Stack) -> None:
    """The HubSpot emulator's v3-signed webhook is accepted by crmsync and the override appears."""
    pushed.sb.hubspot.update_deal("1023", dealstage="closedwon", seats_purchased="300")
    settle(pushed)
    assert seats(pushed, "comp_hooli") == 300
    statuses = {d.status for d in pushed.sb.webhooks.pushers["hubspot"].deliveries}
    assert statuses == {200}


def test_crmsyncs_own_writes_echo_back_and_end_in_no_write(pushed: Stack) -> None:
    """Schematic's webhooks for crmsync's own creates reconcile the company again, which writes nothing."""
    pushed.sb.hubspot.update_deal("1023", dealstage="closedwon", seats_purchased="300")
    settle(pushed)
    # oldest first, after the full reconcile serve runs at start
    runs = [r for r in reversed(pushed.store.runs()) if r.trigger != "schedule"]
    assert [r.trigger for r in runs][:1] == ["webhook:hubspot"]
    assert json.loads(runs[0].summary_json)["create"] >= 1
    # The echo is resolved beside the run (serving/worker.py): when it comes while the company still
    # runs, the company runs once more under the run's own trigger; else under webhook:schematic.
    echoes = [json.loads(r.summary_json) for r in runs[1:] if r.trigger in ("webhook:schematic", "webhook:hubspot")]
    assert echoes, "the Schematic webhooks of crmsync's writes reconciled the company again"
    assert all(e["create"] == e["update"] == e["delete"] == 0 for e in echoes)


def test_a_salesforce_opportunity_closing_sends_an_outbound_message(pushed: Stack) -> None:
    """The Salesforce emulator's Outbound Message is acknowledged, and the override follows."""
    assert pushed.sb.salesforce is not None
    pushed.sb.salesforce.update_opportunity("006000000000105AAA", StageName="Closed Won", IsWon=True, IsClosed=True)
    settle(pushed)
    assert seats(pushed, "comp_wayne") == 200
    assert {d.status for d in pushed.sb.webhooks.pushers["salesforce"].deliveries} == {200}


def test_a_manual_edit_in_schematic_is_healed_through_its_webhook(pushed: Stack) -> None:
    """An owned override edited by hand comes back to the deal's value via Schematic's own webhook."""
    pushed.sb.hubspot.update_deal("1023", dealstage="closedwon", seats_purchased="300")
    settle(pushed)
    [override_id] = [i for i, o in pushed.sb.schematic.overrides.items()
                     if o["company_id"] == "comp_hooli" and o["feature_id"] == "feat_seats"]  # fmt: skip
    pushed.sb.schematic.update_override(override_id, {"value_numeric": 1})
    settle(pushed)
    assert seats(pushed, "comp_hooli") == 300


def test_failed_deliveries_are_retried_with_the_attempt_number() -> None:
    """A receiver that fails twice gets the same batch a third time, with attemptNumber 2."""
    seen: list[bytes] = []

    async def flaky(request: Request) -> Response:
        seen.append(await request.body())
        return Response(status_code=503 if len(seen) < 3 else 200)

    receiver = Starlette(routes=[Route("/webhooks/hubspot", flaky, methods=["POST"])])
    with serve_app(receiver) as server, Sandbox() as sb:
        sb.subscribe(server.url)
        pusher = sb.webhooks.pushers["hubspot"]
        sb.hubspot.update_deal("1005", dealstage="closedwon")
        end = time.monotonic() + 30
        while not sb.webhooks.idle():
            assert time.monotonic() < end
            time.sleep(0.02)
    assert len(seen) == 3
    assert b'"attemptNumber": 2' in seen[-1]
    assert [d.status for d in pusher.deliveries] == [503, 503, 200]
