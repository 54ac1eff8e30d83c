"""The three webhook endpoints: verify, turn the body into hints, store them, then answer.

Called by Starlette (routes in `web/app.py`). Nothing is stored unless the request is genuine and
well formed; a 2xx (or the Salesforce acknowledgement) is sent only after the hints are committed
(with those of the requests that came meanwhile: web/commit.py), so a crash after answering loses
nothing. Every refusal is one log line on `crmsync.web`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from crmsync.errors import ServiceError
from crmsync.logs import get_logger
from crmsync.metrics import WEBHOOKS
from crmsync.store.intake import IntakeStore
from crmsync.web import payloads
from crmsync.web.commit import GroupCommit
from crmsync.web.config import WebSettings
from crmsync.web.limits import BodyReader, BodyRefused, RateLimit
from crmsync.web.signatures import check_hubspot, check_schematic

log = get_logger("crmsync.web")


@dataclass
class Ingress:
    """The web side's way in: the ingress store the endpoints write hints to, their settings, and the
    worker they wake (the ingress store is the queue, serving/worker.py the worker that empties it)."""

    store: IntakeStore
    settings: WebSettings
    wake: Callable[[], None] = field(default=lambda: None)  # the local worker reacts at once
    clock: Callable[[], float] = time.time  # seconds since the epoch (signature windows)
    bodies: BodyReader = field(init=False)  # every endpoint's body is read through it (deadline, cap)
    org_rate: RateLimit = field(init=False)  # Outbound Message notifications per org id
    commits: GroupCommit = field(init=False)  # the hints of concurrent requests, stored together

    def __post_init__(self) -> None:
        cfg = self.settings
        self.commits = GroupCommit(self.store)
        self.bodies = BodyReader(cfg.body_timeout, cfg.max_slow_bodies)
        per_second = cfg.notifications_per_minute / 60
        self.org_rate = RateLimit(per_second, max(cfg.notifications_per_minute, cfg.max_notifications))

    async def body(self, request: Request) -> bytes:
        """The request's body under the deadline and the cap (BodyRefused otherwise)."""
        return await self.bodies.read(request)


def refuse(source: str, status: int, reason: str, *, close: bool = False) -> Response:
    """A 4xx/5xx answer with its log line; the body says why (never a secret). Under serve the line
    is throttled per source and status (a flood of forged requests is one line a minute, with a count).
    `close`: the body was not read, so the connection is closed (its socket freed) with the answer."""
    log.warning("webhook.refused", source=source, status=status, reason=reason, condition=f"{source}:{status}")
    WEBHOOKS.labels(source=source, outcome="rejected").inc()
    return JSONResponse({"error": reason}, status_code=status, headers=refusal_headers(status, close=close))


def refusal_headers(status: int, *, close: bool) -> dict[str, str]:
    """Retry-After on 429/503; `connection: close` when the request's body was left unread."""
    headers = {"retry-after": "5"} if status in (429, 503) else {}
    return headers | ({"connection": "close"} if close else {})


async def read_body(ingress: Ingress, source: str, request: Request) -> bytes | Response:
    """The body, or the refusal to answer (slow, too many at once, client gone)."""
    try:
        return await ingress.body(request)
    except BodyRefused as exc:
        return refuse(source, exc.status, exc.reason, close=True)


def signed_url(request: Request, public_url: str | None) -> str:
    """The URL the sender signed: CRMSYNC_PUBLIC_URL + path + query when set, else the one requested."""
    if public_url is None:
        return str(request.url)
    query = request.url.query
    return f"{public_url}{request.url.path}{'?' + query if query else ''}"


async def store(ingress: Ingress, source: str, parsed: payloads.Parsed) -> int | Response:
    """Commit the hints; returns how many were new, or a 503 the sender will retry."""
    try:
        added = await ingress.commits.add(parsed.events)
    except ServiceError as exc:
        log.error("webhook.not_stored", source=source, error=type(exc).__name__, detail=str(exc))
        return JSONResponse({"error": "state database unavailable; retry"}, status_code=503)
    if added:
        ingress.wake()
    for outcome, count in (("stored", added), ("duplicate", len(parsed.events) - added), ("ignored", parsed.ignored)):
        if count:
            WEBHOOKS.labels(source=source, outcome=outcome).inc(count)
    if parsed.ignored:
        log.info("webhook.ignored", source=source, events=parsed.ignored)  # not a handled type, or another account
    return added


def make_hubspot(ingress: Ingress) -> Callable[[Request], object]:
    """POST /webhooks/hubspot: v3 signature, ±window, batches of deal events."""

    async def hubspot(request: Request) -> Response:
        cfg = ingress.settings
        if not cfg.hubspot_client_secret:
            return refuse("hubspot", 404, "HubSpot webhooks are off: HUBSPOT_CLIENT_SECRET is not set")
        body = await read_body(ingress, "hubspot", request)
        if isinstance(body, Response):
            return body
        url = signed_url(request, cfg.public_url)
        now_ms = int(ingress.clock() * 1000)
        reason = check_hubspot(body, request.headers, url, cfg.hubspot_client_secret, now_ms, cfg.window)
        if reason:
            return refuse("hubspot", 401, reason)
        try:
            parsed = payloads.hubspot_events(body, cfg.hubspot_portal_id, cfg.max_json_depth)
        except payloads.BadPayload as exc:
            return refuse("hubspot", 400, str(exc))
        added = await store(ingress, "hubspot", parsed)
        if isinstance(added, Response):
            return added
        return JSONResponse({"stored": added, "duplicates": len(parsed.events) - added, "ignored": parsed.ignored})

    return hubspot


def make_salesforce(ingress: Ingress) -> Callable[[Request], object]:
    """POST /webhooks/salesforce: an Outbound Message from our organization; acknowledged once stored."""

    async def salesforce(request: Request) -> Response:
        expected = ingress.settings.salesforce_organization_id
        if not expected:
            return refuse("salesforce", 404, "Outbound Messages are off: SALESFORCE_ORGANIZATION_ID is not set")
        body = await read_body(ingress, "salesforce", request)
        if isinstance(body, Response):
            return body
        try:
            parsed = payloads.salesforce_notifications(body, ingress.settings.max_notifications)
        except payloads.BadPayload as exc:
            return refuse("salesforce", 400, str(exc))
        if not same_org(parsed.organization_id, expected):
            return refuse(
                "salesforce", 403, f"OrganizationId {parsed.organization_id[:40]!r} is not SALESFORCE_ORGANIZATION_ID"
            )
        # The org id is not a secret: a forger may know it. Past the budget Salesforce's own retries
        # (for 24 h) deliver the genuine messages later; the forger's flood stores nothing more.
        if not ingress.org_rate.take(expected[:15], max(1, parsed.notifications)):
            per_minute = ingress.settings.notifications_per_minute
            return refuse("salesforce", 429, f"more than {per_minute:g} notifications a minute for this org; retry")
        added = await store(ingress, "salesforce", parsed)
        if isinstance(added, Response):
            return added
        return Response(payloads.ACK, media_type="text/xml")

    return salesforce


def same_org(got: str, expected: str) -> bool:
    """Organization ids match, in their 15- or 18-character forms (the first 15 are the id)."""
    if not got:
        return False
    return got == expected or (min(len(got), len(expected)) == 15 and got[:15] == expected[:15])


def make_schematic(ingress: Ingress) -> Callable[[Request], object]:
    """POST /webhooks/schematic: signed `company.override.*` events, ±window."""

    async def schematic(request: Request) -> Response:
        cfg = ingress.settings
        if not cfg.schematic_webhook_secret:
            return refuse("schematic", 404, "Schematic webhooks are off: SCHEMATIC_WEBHOOK_SECRET is not set")
        body = await read_body(ingress, "schematic", request)
        if isinstance(body, Response):
            return body
        reason = check_schematic(body, request.headers, cfg.schematic_webhook_secret, int(ingress.clock()), cfg.window)
        if reason:
            return refuse("schematic", 401, reason)
        try:
            parsed = payloads.schematic_event(body, cfg.max_json_depth)
        except payloads.BadPayload as exc:
            return refuse("schematic", 400, str(exc))
        added = await store(ingress, "schematic", parsed)
        if isinstance(added, Response):
            return added
        return JSONResponse({"stored": added, "ignored": parsed.ignored})

    return schematic
