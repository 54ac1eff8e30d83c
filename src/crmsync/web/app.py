"""The Starlette app of `crmsync serve`: webhooks, `/healthz`, `/readyz`, `/metrics`, `POST /reconcile`,
`POST /approve` (the operators' endpoints are in web/ops.py).

Built by `make_app` from an `Ingress` (store, settings, wake-up), the health tracker and the `OpsHooks`
app.py gives it; the caller (app.py `build_service`, or a test) owns the lifespan. Webhook bodies over
`max_body` bytes get 413 from Starlette's own limit, chunked bodies included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from crmsync.metrics import SuccessTracker
from crmsync.web.access import AccessLog
from crmsync.web.metrics import metrics_endpoint
from crmsync.web.ops import READY_MAX_AGE, OpsHooks, approve, readyz, reconcile
from crmsync.web.webhooks import Ingress, make_hubspot, make_salesforce, make_schematic


def make_app(
    ingress: Ingress,
    tracker: SuccessTracker | None = None,
    *,
    ready_max_age: float = READY_MAX_AGE,
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[Any]] | None = None,
    hooks: OpsHooks | None = None,
    extra: Sequence[BaseRoute] = (),
) -> Starlette:
    """The app; `tracker` holds each check's last result (for /readyz), `hooks` what the operators'
    endpoints ask of the service; `extra` routes are added (the console's, under /ui, when configured)."""
    limit = ingress.settings.max_body
    hooks = hooks or OpsHooks()
    tracker = tracker or SuccessTracker()
    routes = [
        Route("/webhooks/hubspot", make_hubspot(ingress), methods=["POST"], max_body_size=limit),
        Route("/webhooks/salesforce", make_salesforce(ingress), methods=["POST"], max_body_size=limit),
        Route("/webhooks/schematic", make_schematic(ingress), methods=["POST"], max_body_size=limit),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz(ingress, tracker, ready_max_age, hooks), methods=["GET"]),
        Route("/metrics", metrics_endpoint(ingress.store.depth), methods=["GET"]),
        Route("/reconcile", reconcile(ingress, hooks), methods=["POST"], max_body_size=limit),
        Route("/approve", approve(ingress, hooks), methods=["POST"], max_body_size=limit),
        *extra,
    ]
    # the access log: uvicorn's own is off (it printed to stdout in its own format)
    return Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(AccessLog)])


def healthz(_request: Request) -> Response:
    """Alive: the process answers (no I/O)."""
    return PlainTextResponse("ok")
