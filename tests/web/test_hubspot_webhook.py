"""POST /webhooks/hubspot over real HTTP, signed with hubspot-api-client's own v3 helper."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from tests.serve.signing import hubspot_headers
from tests.web.conftest import HUBSPOT_SECRET, PORTAL, Served

PATH = "/webhooks/hubspot"


def event(**fields: Any) -> dict[str, Any]:
    """A deal.propertyChange event of our portal, with `fields` replaced."""
    base = {
        "eventId": 100, "subscriptionId": 2345, "portalId": int(PORTAL), "appId": 54321,
        "occurredAt": 1_717_200_000_000, "subscriptionType": "deal.propertyChange", "attemptNumber": 0,
        "objectId": 1000, "propertyName": "dealstage", "propertyValue": "closedwon", "changeSource": "CRM_UI",
    }  # fmt: skip
    return base | fields


def post(served: Served, events: Any, *, raw: bytes | None = None, **signing: Any) -> Any:
    """POST a batch signed for the URL it is sent to."""
    body = raw if raw is not None else json.dumps(events).encode()
    headers = hubspot_headers(HUBSPOT_SECRET, served.url + PATH, body, **signing)
    return served.client.post(PATH, content=body, headers=headers)


def test_signed_deal_change_is_stored_and_wakes_the_worker(served: Served) -> None:
    """A signed deal.propertyChange is stored as one hint and wakes the local worker."""
    answer = post(served, [event()])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"stored": 1, "duplicates": 0, "ignored": 0}
    assert served.stored() == 1
    assert served.woken.is_set()


def test_the_same_event_delivered_twice_is_stored_once(served: Served) -> None:
    """A redelivery (a retry differs only in attemptNumber) is acknowledged but stored once."""
    post(served, [event()])
    again = post(served, [event(attemptNumber=1)])
    assert again.status_code == 200
    assert again.json()["duplicates"] == 1
    assert served.stored() == 1


def test_a_batch_of_events_for_several_deals_is_stored_whole(served: Served) -> None:
    """Every deal event of a batch becomes a hint; a merge names every deal involved."""
    merge = event(subscriptionType="deal.merge", eventId=7, objectId=3, primaryObjectId=3, mergedObjectIds=[4, 5])
    answer = post(served, [event(objectId=1), event(objectId=2, eventId=2), merge])
    assert answer.json()["stored"] == 5


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"x-hubspot-signature-v3": "AAAA"}, "a wrong signature"),
        ({"x-hubspot-signature-v3": ""}, "no signature"),
        ({"x-hubspot-request-timestamp": ""}, "no timestamp"),
    ],
    ids=["wrong-signature", "missing-signature", "missing-timestamp"],
)
def test_unsigned_or_badly_signed_requests_are_refused(
    served: Served, headers: dict[str, str], why: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A request with a wrong or missing signature is answered 401, stores nothing, and is logged."""
    body = json.dumps([event()]).encode()
    signed = hubspot_headers(HUBSPOT_SECRET, served.url + PATH, body) | headers
    with caplog.at_level(logging.WARNING, logger="crmsync.web"):
        answer = served.client.post(PATH, content=body, headers=signed)
    assert answer.status_code == 401, why
    assert served.stored() == 0
    assert any("webhook.refused" in r.getMessage() and "401" in r.getMessage() for r in caplog.records)


def test_a_request_signed_with_another_secret_is_refused(served: Served) -> None:
    """Only the app's client secret makes a valid signature."""
    body = json.dumps([event()]).encode()
    headers = hubspot_headers("someone-else", served.url + PATH, body)
    assert served.client.post(PATH, content=body, headers=headers).status_code == 401
    assert served.stored() == 0


@pytest.mark.parametrize("offset_s", [-301, 301], ids=["stale", "future"])
def test_timestamps_outside_five_minutes_are_refused(served: Served, offset_s: int) -> None:
    """A signature more than five minutes old, or from the future, is refused (a replay window)."""
    answer = post(served, [event()], at_ms=int((time.time() + offset_s) * 1000))
    assert answer.status_code == 401
    assert served.stored() == 0


@pytest.mark.parametrize(
    "raw", [b"{not json", b'{"an": "object"}', b"[1, 2]"], ids=["malformed", "not-an-array", "not-events"]
)
def test_malformed_bodies_are_refused(served: Served, raw: bytes) -> None:
    """A correctly signed body that is not a HubSpot event array is answered 400 and stores nothing."""
    assert post(served, None, raw=raw).status_code == 400
    assert served.stored() == 0


def test_other_portals_and_unknown_types_are_ignored_with_200(served: Served) -> None:
    """Events of another portal or of a type crmsync does not handle are acknowledged, not stored."""
    answer = post(served, [event(portalId=1), event(subscriptionType="contact.creation", eventId=5)])
    assert answer.status_code == 200
    assert answer.json() == {"stored": 0, "duplicates": 0, "ignored": 2}
    assert served.stored() == 0


def test_association_change_carries_the_company_as_a_hint(served: Served) -> None:
    """A deal→company association change names the company; one with a contact is ignored."""
    company = event(subscriptionType="deal.associationChange", associationType="DEAL_TO_COMPANY",
                    fromObjectId=1000, toObjectId=5001, associationRemoved=True, eventId=9)  # fmt: skip
    contact = event(subscriptionType="deal.associationChange", associationType="DEAL_TO_CONTACT",
                    fromObjectId=1000, toObjectId=77, eventId=10)  # fmt: skip
    assert post(served, [company, contact]).json() == {"stored": 1, "duplicates": 0, "ignored": 1}
    [claimed] = served.intake.claim_events("t", 10, 30)
    assert (claimed.object_id, claimed.company_key) == ("1000", "5001")


def test_a_body_over_one_megabyte_is_refused_with_413(served: Served) -> None:
    """Bodies over 1 MB are cut off with 413 before any parsing."""
    raw = json.dumps([event(propertyValue="x" * 1_100_000)]).encode()
    assert post(served, None, raw=raw).status_code == 413
    assert served.stored() == 0
