"""The Starlette app of `crmsync serve`: webhooks, `/healthz`, `/readyz`, `/metrics`, `POST /reconcile`.

Built by `make_app` from an `Ingress` (store, settings, wake-up) and a success tracker; the caller
(app.py `build_service`, or a test) owns the lifespan. Webhook bodies over `max_body` bytes get 413
from Starlette's own limit, chunked bodies included.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from crmsync.domain import Trigger
from crmsync.errors import ServiceError
from crmsync.logs import get_logger
from crmsync.metrics import SuccessTracker
from crmsync.store.intake import ALL_COMPANIES
from crmsync.web.access import AccessLog
from crmsync.web.limits import BodyRefused, RateLimit
from crmsync.web.metrics import metrics_endpoint
from crmsync.web.payloads import parse_json
from crmsync.web.webhooks import Ingress, make_hubspot, make_salesforce, make_schematic, refusal_headers

log = get_logger("crmsync.web")
READY_MAX_AGE = 900.0  # seconds without any successful API call before /readyz says 503
MAX_COMPANIES = 1000  # ids in one POST /reconcile


def make_app(
    ingress: Ingress,
    tracker: SuccessTracker | None = None,
    *,
    ready_max_age: float = READY_MAX_AGE,
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[Any]] | None = None,
    extra: Sequence[BaseRoute] = (),
) -> Starlette:
    """The app; `tracker` says when an outside API last answered (for /readyz); `extra` routes are added
    (the console's, under /ui, when it is configured)."""
    limit = ingress.settings.max_body
    routes = [
        Route("/webhooks/hubspot", make_hubspot(ingress), methods=["POST"], max_body_size=limit),
        Route("/webhooks/salesforce", make_salesforce(ingress), methods=["POST"], max_body_size=limit),
        Route("/webhooks/schematic", make_schematic(ingress), methods=["POST"], max_body_size=limit),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz(ingress, tracker or SuccessTracker(), ready_max_age), methods=["GET"]),
        Route("/metrics", metrics_endpoint(ingress.store.depth), methods=["GET"]),
        Route("/reconcile", reconcile(ingress), methods=["POST"], max_body_size=limit),
        *extra,
    ]
    # the access log: uvicorn's own is off (it printed to stdout in its own format)
    return Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(AccessLog)])


def healthz(_request: Request) -> Response:
    """Alive: the process answers (no I/O)."""
    return PlainTextResponse("ok")


def readyz(ingress: Ingress, tracker: SuccessTracker, max_age: float) -> Callable[[Request], Any]:
    """Ready: the state database answers and an outside API answered successfully within `max_age` s."""

    async def ready(_request: Request) -> Response:
        try:
            await run_in_threadpool(ingress.store.ping)
        except ServiceError as exc:
            log.warning("readyz.database_unreachable", error=type(exc).__name__, detail=str(exc))
            return JSONResponse({"ready": False, "reason": "state database unreachable"}, status_code=503)
        age = tracker.age()
        if age is None or age > max_age:
            reason = "no successful API call yet" if age is None else f"last successful API call {age:.0f} s ago"
            return JSONResponse({"ready": False, "reason": reason}, status_code=503)
        return JSONResponse({"ready": True, "last_success_age_seconds": round(age, 3)})

    return ready


def reconcile(ingress: Ingress) -> Callable[[Request], Any]:
    """POST /reconcile (bearer CRMSYNC_OPS_TOKEN): `{"companies": [...]}` queues those, no body a full run."""

    per_minute = ingress.settings.failed_tokens_per_minute
    failures = RateLimit(per_minute / 60, per_minute)  # wrong tokens per client address

    async def queue(request: Request) -> Response:
        token = ingress.settings.ops_token
        if not token:
            return _refused(404, "POST /reconcile is off: CRMSYNC_OPS_TOKEN is not set")
        client = request.client.host if request.client else "?"
        if failures.left(client) < 1:  # guessing stops here: not even a right token is checked
            return _refused(429, f"more than {per_minute:g} wrong tokens a minute from this address; wait")
        given = request.headers.get("authorization", "")
        if not given.startswith("Bearer ") or not hmac.compare_digest(given[7:].encode(), token.encode()):
            failures.take(client)
            return _refused(401, "missing or wrong bearer token")
        try:
            companies = _companies(await ingress.body(request))
        except BodyRefused as exc:
            return _refused(exc.status, exc.reason, close=True)
        except ValueError as exc:
            return _refused(400, str(exc))
        try:
            await run_in_threadpool(ingress.store.enqueue_companies, companies, Trigger.OPS)
        except ServiceError as exc:
            log.error("ops.reconcile_not_queued", error=type(exc).__name__, detail=str(exc))
            return JSONResponse({"error": "state database unavailable; retry"}, status_code=503)
        ingress.wake()
        full = companies == [ALL_COMPANIES]
        log.info("ops.reconcile_queued", scope="all" if full else len(companies))
        return JSONResponse({"queued": companies}, status_code=202)

    return queue


def _companies(body: bytes) -> list[str]:
    """The company ids of a request body; an empty body (or no `companies`) means a full run."""
    if not body.strip():
        return [ALL_COMPANIES]
    data = parse_json(body)  # BadPayload is a ValueError: a 400
    if not isinstance(data, dict):
        raise ValueError('body must be a JSON object: {"companies": ["comp_…", …]}')
    companies = data.get("companies")
    if companies is None:
        return [ALL_COMPANIES]
    if not isinstance(companies, list) or not companies or not all(isinstance(c, str) and c.strip() for c in companies):
        raise ValueError("companies must be a non-empty list of Schematic company ids")
    if len(companies) > MAX_COMPANIES:
        raise ValueError(f"at most {MAX_COMPANIES} companies per request")
    return sorted({c.strip()[:64] for c in companies} - {ALL_COMPANIES}) or [ALL_COMPANIES]


def _refused(status: int, reason: str, *, close: bool = False) -> Response:
    log.warning("ops.reconcile_refused", status=status, reason=reason, condition=f"reconcile:{status}")
    return JSONResponse({"error": reason}, status_code=status, headers=refusal_headers(status, close=close))
