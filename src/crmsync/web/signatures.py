"""Webhook signature checks: HubSpot v3 and Schematic, computed here with hmac, each with its own
±window on the timestamp (neither vendor's SDK helper rejects a future or, for Schematic, an old one).

Pure functions over the raw body, the headers and `now`; called by `web/webhooks.py`. A check
returns the reason it failed (for the log line) or None when the request is genuine.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping

# HubSpot's request-validation guide: these percent-escapes are decoded in the signed URI.
_HUBSPOT_DECODE = {
    "3A": ":", "2F": "/", "3F": "?", "40": "@", "21": "!", "24": "$",
    "27": "'", "28": "(", "29": ")", "2A": "*", "2C": ",", "3B": ";",
}  # fmt: skip
_ESCAPE = re.compile(r"%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)", re.IGNORECASE)


def hubspot_uri(url: str) -> str:
    """The URI as HubSpot signs it: the called URL with the listed escapes decoded."""
    return _ESCAPE.sub(lambda m: _HUBSPOT_DECODE[m.group(1).upper()], url)


def hubspot_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """base64(HMAC-SHA256(secret, method + uri + body + timestamp))."""
    message = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def check_hubspot(
    body: bytes, headers: Mapping[str, str], url: str, secret: str, now_ms: int, window: int
) -> str | None:
    """Why this HubSpot request is not genuine, or None. `url` is the public URL it was sent to."""
    timestamp = headers.get("x-hubspot-request-timestamp", "")
    signature = headers.get("x-hubspot-signature-v3", "")
    if not signature or not timestamp:
        return "missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp"
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 20:
        return "X-HubSpot-Request-Timestamp is not epoch milliseconds"
    if abs(now_ms - int(timestamp)) > window * 1000:
        return f"timestamp {timestamp} is more than {window} s from now"
    expected = hubspot_v3(secret, "POST", hubspot_uri(url), body, timestamp)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return "signature does not match (check HUBSPOT_CLIENT_SECRET and CRMSYNC_PUBLIC_URL)"
    return None


def schematic_hex(secret: str, body: bytes, timestamp: str) -> str:
    """hex(HMAC-SHA256(secret, body + "+" + timestamp)), as Schematic signs a webhook."""
    return hmac.new(secret.encode(), body + b"+" + timestamp.encode(), hashlib.sha256).hexdigest()


def check_schematic(body: bytes, headers: Mapping[str, str], secret: str, now_s: int, window: int) -> str | None:
    """Why this Schematic request is not genuine, or None."""
    timestamp = headers.get("x-schematic-webhook-timestamp", "")
    signature = headers.get("x-schematic-webhook-signature", "")
    if not signature or not timestamp:
        return "missing X-Schematic-Webhook-Signature or X-Schematic-Webhook-Timestamp"
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 20:
        return "X-Schematic-Webhook-Timestamp is not epoch seconds"
    if abs(now_s - int(timestamp)) > window:
        return f"timestamp {timestamp} is more than {window} s from now"
    if not hmac.compare_digest(schematic_hex(secret, body, timestamp).encode(), signature.strip().lower().encode()):
        return "signature does not match (check SCHEMATIC_WEBHOOK_SECRET)"
    return None
