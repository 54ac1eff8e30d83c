"""Webhook bodies → intake hints: HubSpot event batches, Salesforce Outbound Messages, Schematic events.

Pure (no I/O, no clock); called by `web/webhooks.py` after the signature check. A malformed body
raises `BadPayload` (answered 400); events crmsync does not handle are counted as ignored (answered
200, so the vendor does not retry them). Payload values are only hints: ids to re-read, never data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from crmsync.store.intake import NewEvent
from crmsync.web.limits import json_depth

HUBSPOT_DEAL_EVENTS = frozenset(
    {"deal.propertyChange", "deal.creation", "deal.deletion", "deal.restore", "deal.merge", "deal.associationChange"}
)
MAX_HUBSPOT_BATCH = 100
MAX_JSON_DEPTH = 32  # vendors nest 3 or 4 levels; the parser would recurse into 100,000
MAX_NOTIFICATIONS = 100  # per Outbound Message: Salesforce sends at most 100
OM_NS = "{http://soap.sforce.com/2005/09/outbound}"
SOBJECT_NS = "{urn:sobject.enterprise.soap.sforce.com}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
SOAP_BODY = "{http://schemas.xmlsoap.org/soap/envelope/}Body"


class BadPayload(ValueError):
    """The body is not what the vendor sends (answered 400; nothing is stored)."""


@dataclass
class Parsed:
    """The hints of one request, and how many of its events were deliberately ignored."""

    events: list[NewEvent] = field(default_factory=list)
    ignored: int = 0
    organization_id: str = ""  # Salesforce only
    notifications: int = 0  # Salesforce only: how many the message carried (rate-limited per org)


def parse_json(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The JSON of a body, nested at most `max_depth` deep; anything else is BadPayload (a 400)."""
    depth = json_depth(body)
    if depth > max_depth:
        raise BadPayload(f"JSON nested {depth} levels deep; at most {max_depth} are accepted")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BadPayload(f"body is not JSON ({type(exc).__name__}: {str(exc)[:120]})") from exc


def _ms(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value / 1000, UTC) if isinstance(value, int) and value > 0 else None


def _id(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | str) or str(value) == "":
        return None
    return str(value)


def hubspot_events(body: bytes, portal_id: str | None, max_depth: int = MAX_JSON_DEPTH) -> Parsed:
    """A HubSpot batch (a JSON array of ≤ 100 events): deal events of our portal become hints."""
    batch = parse_json(body, max_depth)
    if not isinstance(batch, list) or not all(isinstance(e, dict) for e in batch):
        raise BadPayload("a HubSpot webhook body is a JSON array of event objects")
    if len(batch) > MAX_HUBSPOT_BATCH:
        raise BadPayload(f"{len(batch)} events in one request; HubSpot sends at most {MAX_HUBSPOT_BATCH}")
    parsed = Parsed()
    for event in batch:
        kind = event.get("subscriptionType")
        portal = _id(event.get("portalId"))
        if kind not in HUBSPOT_DEAL_EVENTS or (portal_id is not None and portal != portal_id):
            parsed.ignored += 1
            continue
        hints = list(_hubspot_hints(event))
        if not hints:
            parsed.ignored += 1
        key = ":".join(
            str(event.get(k, "")) for k in ("portalId", "subscriptionId", "eventId", "objectId", "occurredAt")
        )
        for n, (deal, company) in enumerate(hints):
            parsed.events.append(
                NewEvent("hubspot", str(kind), deal, f"hubspot:{key}:{n}", company, _ms(event.get("occurredAt")))
            )
    return parsed


def _hubspot_hints(event: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    """(deal id, company id named by the payload) pairs of one event."""
    kind = event["subscriptionType"]
    if kind == "deal.associationChange":
        relation = str(event.get("associationType", ""))
        origin, target = _id(event.get("fromObjectId")), _id(event.get("toObjectId"))
        if relation.startswith("DEAL_TO_COMPANY") and origin:
            yield origin, target
        elif relation.startswith("COMPANY_TO_DEAL") and target:
            yield target, origin
        return  # associations with contacts, line items…: no company changed
    if kind == "deal.merge":
        ids = [event.get("objectId"), event.get("primaryObjectId"), event.get("newObjectId")]
        merged = event.get("mergedObjectIds")
        ids += merged if isinstance(merged, list) else []
        for merged_id in dict.fromkeys(i for i in map(_id, ids) if i):
            yield merged_id, None
        return
    deal = _id(event.get("objectId"))
    if deal:
        yield deal, None


def salesforce_notifications(body: bytes, max_notifications: int = MAX_NOTIFICATIONS) -> Parsed:
    """An Outbound Message: Opportunity Id (+ AccountId) per notification. DTDs and entities are refused,
    and so is a message of more than `max_notifications` (whole: nothing of it is stored)."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException) as exc:
        raise BadPayload(f"not an acceptable SOAP message ({type(exc).__name__}: {exc})") from exc
    soap_body = root.find(SOAP_BODY)
    notifications = soap_body.find(f"{OM_NS}notifications") if soap_body is not None else None
    if notifications is None:
        raise BadPayload("no soapenv:Body/notifications element (namespace http://soap.sforce.com/2005/09/outbound)")
    notes = notifications.findall(f"{OM_NS}Notification")
    if len(notes) > max_notifications:
        raise BadPayload(f"{len(notes)} notifications in one message; Salesforce sends at most {max_notifications}")
    organization = (notifications.findtext(f"{OM_NS}OrganizationId") or "").strip()
    parsed = Parsed(organization_id=organization, notifications=len(notes))
    for note in notes:
        note_id = (note.findtext(f"{OM_NS}Id") or "").strip()
        sobject = note.find(f"{OM_NS}sObject")
        if not note_id or sobject is None or not _is_opportunity(sobject):
            parsed.ignored += 1
            continue
        opp_id = (sobject.findtext(f"{SOBJECT_NS}Id") or "").strip()
        account = (sobject.findtext(f"{SOBJECT_NS}AccountId") or "").strip() or None
        if not opp_id:
            parsed.ignored += 1  # a record deleted before delivery: the next poll or resync sees it
            continue
        parsed.events.append(NewEvent("salesforce", "opportunity", opp_id, f"salesforce:{note_id}", account))
    return parsed


def _is_opportunity(sobject: Element) -> bool:
    kind = sobject.get(XSI_TYPE, "")
    return kind.rsplit(":", 1)[-1] == "Opportunity"


def schematic_event(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> Parsed:
    """A Schematic webhook: `company.override.*` names the company to reconcile."""
    event = parse_json(body, max_depth)
    if not isinstance(event, dict) or not isinstance(event.get("action"), str):
        raise BadPayload("a Schematic webhook body is a JSON object with an `action`")
    action = event["action"]
    if not action.startswith("company.override."):
        return Parsed(ignored=1)
    inner: dict[str, Any] = event["body"] if isinstance(event.get("body"), dict) else {}
    company = _id(event.get("company_id")) or _id(inner.get("company_id"))
    if company is None:
        raise BadPayload(f"{action} without a company_id")
    override = _id(inner.get("id")) or company
    digest = hashlib.sha256(body).hexdigest()
    return Parsed([NewEvent("schematic", action[:48], override, f"schematic:{digest}", company)])


ACK = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    b'<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse>'
    b"</soapenv:Body></soapenv:Envelope>"
)
