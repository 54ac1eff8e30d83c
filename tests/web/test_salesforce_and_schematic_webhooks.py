"""POST /webhooks/salesforce (Outbound Messages) and /webhooks/schematic (signed with schematichq's helper)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.serve.signing import outbound_message, schematic_headers
from tests.web.conftest import ORG, SCHEMATIC_SECRET, Served

OPP, ACCOUNT = "006000000000001AAA", "001000000000001AAA"


def post_om(served: Served, body: bytes) -> Any:
    return served.client.post("/webhooks/salesforce", content=body, headers={"content-type": "text/xml"})


def test_an_outbound_message_is_stored_then_acknowledged(served: Served) -> None:
    """An Outbound Message of our org is stored (Opportunity Id, AccountId hint) and answered with the Ack."""
    answer = post_om(served, outbound_message(ORG, [("04l000000000001AAA", OPP, ACCOUNT)]))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/xml")
    assert "<Ack>true</Ack>" in answer.text
    [claimed] = served.intake.claim_events("t", 10, 30)
    assert (claimed.source, claimed.object_id, claimed.company_key) == ("salesforce", OPP, ACCOUNT)


def test_a_redelivered_notification_is_stored_once(served: Served) -> None:
    """Salesforce retries until acknowledged: the notification Id makes the second copy a no-op."""
    body = outbound_message(ORG, [("04l000000000001AAA", OPP, ACCOUNT)])
    assert post_om(served, body).status_code == 200
    assert post_om(served, body).status_code == 200
    assert served.stored() == 1


def test_the_15_character_org_id_matches_its_18_character_form(served: Served) -> None:
    """Organization ids are compared on their 15-character core."""
    assert post_om(served, outbound_message(ORG[:15], [("04l000000000002AAA", OPP, None)])).status_code == 200


def test_another_organization_is_refused(served: Served) -> None:
    """A message from another org gets 403 (Salesforce keeps retrying, so a fixed setting recovers it)."""
    answer = post_om(served, outbound_message("00D999999999999AAA", [("04l000000000001AAA", OPP, ACCOUNT)]))
    assert answer.status_code == 403
    assert served.stored() == 0


@pytest.mark.parametrize(
    "prolog",
    [
        '<!DOCTYPE x [<!ENTITY e "boom">]>',
        '<!DOCTYPE x SYSTEM "http://example.com/x.dtd">',
    ],
    ids=["entity", "external-dtd"],
)
def test_a_dtd_or_entity_is_rejected(served: Served, prolog: str) -> None:
    """An XML DTD or entity declaration is rejected before anything is parsed out of it."""
    assert post_om(served, outbound_message(ORG, [("04l1", OPP, ACCOUNT)], prolog=prolog)).status_code == 400
    assert served.stored() == 0


@pytest.mark.parametrize("body", [b"<not xml", b"<a/>", b"{}"], ids=["broken", "no-envelope", "json"])
def test_malformed_xml_is_refused(served: Served, body: bytes) -> None:
    """A body that is not an Outbound Message is answered 400 and stores nothing."""
    assert post_om(served, body).status_code == 400
    assert served.stored() == 0


def schematic_event(action: str = "company.override.updated", company: str = "comp_1") -> bytes:
    return json.dumps({
        "action": action, "account_id": "acct_1", "environment_id": "env_1", "object_type": "company_override",
        "company_id": company, "body": {"id": "cmov_1", "company_id": company, "feature_id": "feat_1"},
    }).encode()  # fmt: skip


def post_schematic(served: Served, body: bytes, **signing: Any) -> Any:
    return served.client.post(
        "/webhooks/schematic", content=body, headers=schematic_headers(SCHEMATIC_SECRET, body, **signing)
    )


def test_a_signed_override_event_is_stored_with_its_company(served: Served) -> None:
    """A company.override.* event signed as Schematic signs is stored with the company it names."""
    answer = post_schematic(served, schematic_event())
    assert answer.status_code == 200
    assert answer.json() == {"stored": 1, "ignored": 0}
    [claimed] = served.intake.claim_events("t", 10, 30)
    assert (claimed.source, claimed.company_key) == ("schematic", "comp_1")


def test_a_replayed_schematic_event_is_stored_once(served: Served) -> None:
    """The same body delivered again inside the window is stored once."""
    body = schematic_event()
    post_schematic(served, body)
    assert post_schematic(served, body).json()["stored"] == 0
    assert served.stored() == 1


@pytest.mark.parametrize("offset_s", [-301, 301], ids=["stale", "future"])
def test_schematic_timestamps_outside_five_minutes_are_refused(served: Served, offset_s: int) -> None:
    """The SDK helper checks no timestamp; crmsync refuses anything more than 5 minutes off."""
    assert post_schematic(served, schematic_event(), at_s=int(time.time()) + offset_s).status_code == 401
    assert served.stored() == 0


def test_a_wrong_schematic_signature_is_refused(served: Served) -> None:
    """A body signed with another secret is answered 401."""
    body = schematic_event()
    headers = schematic_headers("other-secret", body)
    assert served.client.post("/webhooks/schematic", content=body, headers=headers).status_code == 401
    assert served.stored() == 0


def test_other_schematic_events_are_ignored_with_200(served: Served) -> None:
    """Events other than company.override.* are acknowledged and not stored."""
    assert post_schematic(served, schematic_event("company.plan_changed")).json() == {"stored": 0, "ignored": 1}


def test_malformed_schematic_bodies_are_refused(served: Served) -> None:
    """A signed body that is not a Schematic event object is answered 400."""
    assert post_schematic(served, b"[1").status_code == 400
    assert post_schematic(served, json.dumps({"action": "company.override.created"}).encode()).status_code == 400
