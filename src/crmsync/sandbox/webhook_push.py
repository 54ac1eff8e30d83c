"""The emulators push like the real services: HubSpot signed v3 webhook batches for deal changes,
Salesforce Outbound Messages for Opportunity changes, Schematic signed `company.override.*` events.

`Subscriptions.start(sandbox, base_url)` (via `Sandbox.subscribe`) listens to the emulator states and
delivers to `base_url` + `/webhooks/{hubspot,salesforce,schematic}` with retries (push.py). Signatures
use the real algorithms: hubspot-api-client's own `Signature` for v3, HMAC-SHA256 hex for Schematic.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from hubspot.utils.signature import Signature

from crmsync.sandbox.push import Pusher

if TYPE_CHECKING:
    from crmsync.sandbox.runner import Sandbox

PORTAL_ID = 62515
APP_ID = 54321


def hubspot_encoder(url: str, secret: str) -> Any:
    """Batches of HubSpot events as HubSpot sends them: a JSON array, v3-signed over `url` (its target URL)."""

    def encode(events: list[dict[str, Any]], attempt: int) -> tuple[bytes, dict[str, str]]:
        body = json.dumps([e | {"attemptNumber": attempt} for e in events]).encode()
        timestamp = str(int(time.time() * 1000))
        signature = Signature.get_signature(secret, body.decode(), "v3", http_uri=url, http_method="POST",
                                            timestamp=timestamp)  # fmt: skip
        return body, {"content-type": "application/json", "x-hubspot-signature-v3": signature,
                      "x-hubspot-request-timestamp": timestamp}  # fmt: skip

    return encode


def outbound_message(org_id: str, rows: list[dict[str, Any]], _attempt: int) -> tuple[bytes, dict[str, str]]:
    """An Outbound Message envelope with one notification per Opportunity (Id, AccountId, IsWon, StageName)."""
    items = []
    for row in rows:
        fields = "".join(
            f"<sf:{name}>{escape(_soap(row[name]))}</sf:{name}>"
            for name in ("Id", "AccountId", "IsWon", "StageName")
            if row.get(name) is not None
        )
        items.append(
            f"<Notification><Id>{row['_notification']}</Id>"
            f'<sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">{fields}</sObject>'
            "</Notification>"
        )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        f'<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>{org_id}</OrganizationId>'
        '<ActionId>04k000000000001AAA</ActionId><SessionId xsi:nil="true"/>'
        f"{''.join(items)}</notifications></soapenv:Body></soapenv:Envelope>"
    )
    return body.encode(), {"content-type": "text/xml; charset=utf-8", "soapaction": '""'}


def _soap(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def schematic_encoder(secret: str, environment_id: str) -> Any:
    """One Schematic event per request, signed hex(HMAC-SHA256(secret, body + "+" + timestamp))."""

    def encode(events: list[tuple[str, dict[str, Any]]], _attempt: int) -> tuple[bytes, dict[str, str]]:
        [(action, record)] = events
        body = json.dumps({
            "action": action, "account_id": "acct_sandbox", "environment_id": environment_id,
            "object_type": "company_override", "body": record,
            "company_id": record.get("company_id"), "feature_id": record.get("feature_id"),
        }).encode()  # fmt: skip
        timestamp = str(int(time.time()))
        signature = hmac.new(secret.encode(), body + b"+" + timestamp.encode(), hashlib.sha256).hexdigest()
        headers = {
            "content-type": "application/json",
            "x-schematic-webhook-signature": signature,
            "x-schematic-webhook-timestamp": timestamp,
            "x-schematic-webhook-signature-version": "v1",
        }
        return body, headers

    return encode


def _acknowledged(answer: Any) -> bool:
    return bool(answer.status_code == 200 and b"<Ack>true</Ack>" in answer.content)


@dataclass
class Subscriptions:
    """The running pushers of one sandbox and the secrets crmsync needs to verify them."""

    hubspot_secret: str = field(default_factory=lambda: secrets.token_hex(16), repr=False)
    schematic_secret: str = field(default_factory=lambda: secrets.token_hex(16), repr=False)
    pushers: dict[str, Pusher] = field(default_factory=dict)
    organization_id: str = ""

    def start(self, sandbox: Sandbox, base_url: str) -> None:
        """Subscribe `base_url` to every emulator's changes."""
        base = base_url.rstrip("/")
        ids = itertools.count(1)
        lock = threading.Lock()

        def next_id() -> int:
            with lock:
                return next(ids)

        hub_url = f"{base}/webhooks/hubspot"
        hub = self.pushers["hubspot"] = Pusher(hub_url, hubspot_encoder(hub_url, self.hubspot_secret))

        def on_deal(kind: str, fields: dict[str, object]) -> None:
            now = int(time.time() * 1000)
            hub.put({"eventId": next_id(), "subscriptionId": 1, "portalId": PORTAL_ID, "appId": APP_ID,
                     "occurredAt": now, "subscriptionType": kind, "changeSource": "CRM_UI", **fields})  # fmt: skip

        sandbox.hubspot.listeners.append(on_deal)
        schematic = sandbox.schematic
        sch = self.pushers["schematic"] = Pusher(
            f"{base}/webhooks/schematic", schematic_encoder(self.schematic_secret, schematic.environment_id), batch=1
        )
        schematic.listeners.append(lambda action, record: sch.put((action, record)))
        if sandbox.salesforce is not None:
            org = self.organization_id = sandbox.salesforce.org_id
            sf = self.pushers["salesforce"] = Pusher(
                f"{base}/webhooks/salesforce", lambda rows, n: outbound_message(org, rows, n), accepted=_acknowledged
            )
            sandbox.salesforce.listeners.append(lambda row: sf.put(row | {"_notification": f"04l{next_id():015d}"}))

    def idle(self) -> bool:
        """Every delivery made (or given up)."""
        return all(p.idle() for p in self.pushers.values())

    def stop(self) -> None:
        """Stop every pusher."""
        for pusher in self.pushers.values():
            pusher.stop()
        self.pushers.clear()

    def env(self) -> dict[str, str]:
        """What crmsync needs to accept these webhooks."""
        env = {"HUBSPOT_CLIENT_SECRET": self.hubspot_secret, "HUBSPOT_PORTAL_ID": str(PORTAL_ID),
               "SCHEMATIC_WEBHOOK_SECRET": self.schematic_secret}  # fmt: skip
        if self.organization_id:
            env["SALESFORCE_ORGANIZATION_ID"] = self.organization_id
        return env
