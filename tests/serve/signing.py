"""Sign test webhooks with the vendors' own helpers: hubspot-api-client's `Signature` (v3) and
schematichq's `compute_hex_signature`; build Salesforce Outbound Messages as Salesforce sends them."""

from __future__ import annotations

import time

from hubspot.utils.signature import Signature
from schematic.webhook_utils import compute_hex_signature


def hubspot_headers(secret: str, url: str, body: bytes, *, at_ms: int | None = None) -> dict[str, str]:
    """The v3 headers HubSpot sends for `body` posted to `url` (its signed URI), at `at_ms` (default now)."""
    timestamp = str(at_ms if at_ms is not None else int(time.time() * 1000))
    signature = Signature.get_signature(
        secret, body.decode(), "v3", http_uri=url, http_method="POST", timestamp=timestamp
    )
    return {
        "content-type": "application/json",
        "x-hubspot-signature-v3": signature,
        "x-hubspot-request-timestamp": timestamp,
    }


def schematic_headers(secret: str, body: bytes, *, at_s: int | None = None) -> dict[str, str]:
    """The headers Schematic sends for `body` at `at_s` (default now)."""
    timestamp = str(at_s if at_s is not None else int(time.time()))
    return {
        "content-type": "application/json",
        "x-schematic-webhook-signature": compute_hex_signature(body, timestamp, secret),
        "x-schematic-webhook-timestamp": timestamp,
        "x-schematic-webhook-signature-version": "v1",
    }


def outbound_message(org_id: str, notifications: list[tuple[str, str, str | None]], *, prolog: str = "") -> bytes:
    """An Outbound Message envelope: (notification id, Opportunity Id, AccountId) per notification."""
    items = "".join(
        f"<Notification><Id>{note}</Id>"
        f'<sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        f"<sf:Id>{opp}</sf:Id>{f'<sf:AccountId>{account}</sf:AccountId>' if account else ''}"
        f"<sf:IsWon>true</sf:IsWon></sObject></Notification>"
        for note, opp, account in notifications
    )
    return (
        f'{prolog}<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        f'<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{org_id}</OrganizationId><ActionId>04k000000000001AAA</ActionId>"
        f'<SessionId xsi:nil="true"/><EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/59.0</EnterpriseUrl>'
        f"<PartnerUrl>https://example.my.salesforce.com/services/Soap/u/59.0</PartnerUrl>"
        f"{items}</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()
