"""The operators' endpoints of `crmsync serve`: `/readyz`, `POST /reconcile` and `POST /approve`. /readyz
is ready only when the state database answers and every API the mappings in force need passed its last
check; its body names what is failing and since when (crmsync's own error texts, never a secret). The POST
endpoints need the bearer CRMSYNC_OPS_TOKEN; what they ask of the service comes through `OpsHooks` (app.py).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from crmsync.domain import Trigger
from crmsync.errors import CrmsyncError, ServiceError
from crmsync.logs import get_logger
from crmsync.metrics import SERVICES, SuccessTracker
from crmsync.store.intake import ALL_COMPANIES
from crmsync.web.limits import BodyRefused, RateLimit
from crmsync.web.payloads import parse_json
from crmsync.web.webhooks import Ingress, refusal_headers

log = get_logger("crmsync.web")
READY_MAX_AGE = 900.0  # seconds without any successful API call before /readyz says 503
MAX_COMPANIES = 1000  # ids in one POST /reconcile or /approve
MAX_ACTOR = 120  # characters of the actor an approval records

Approve = Callable[[list[str] | None, str], dict[str, Any]]  # (companies, None: all; actor) → the run's result


@dataclass(frozen=True)
class OpsHooks:
    """What the operators' endpoints ask of the service (unset: that part is off)."""

    needed: Callable[[], Collection[str]] = tuple  # the services the mappings in force need
    unknown: Callable[[Sequence[str]], list[str]] | None = None  # the ids Schematic has no company for
    approve: Approve | None = None


def readyz(ingress: Ingress, tracker: SuccessTracker, max_age: float, hooks: OpsHooks) -> Callable[[Request], Any]:
    """Ready: the state database answers, every needed API passed its last check (and has answered once),
    and some API answered within `max_age` s. The body names every failing state and since when."""

    async def ready(_request: Request) -> Response:
        failing = {k: {"reason": why, "since": _iso(since)} for k, (why, since) in tracker.failing().items()}
        try:
            await run_in_threadpool(ingress.store.ping)
        except ServiceError as exc:
            log.warning("readyz.database_unreachable", error=type(exc).__name__, detail=str(exc))
            failing["state database"] = {"reason": "state database unreachable", "since": _iso(None)}
        needed = set(hooks.needed()) | {"state database"}
        blocking = {k: v for k, v in failing.items() if k in needed and k in SERVICES}
        unseen = sorted(s for s in needed - {"state database"} - set(blocking) if not tracker.seen(s))
        age = tracker.age()
        reasons = [f"{k}: {v['reason']}" for k, v in sorted(blocking.items())]
        reasons += [f"{s}: no successful call yet" for s in unseen]
        if not reasons and (age is None or age > max_age):
            reasons.append("no successful API call yet" if age is None else f"last successful API call {age:.0f} s ago")
        body: dict[str, Any] = {"ready": not reasons, "failing": failing}
        if reasons:
            return JSONResponse(body | {"reason": "; ".join(reasons)}, status_code=503)
        return JSONResponse(body | {"last_success_age_seconds": round(age or 0.0, 3)})

    return ready


def reconcile(ingress: Ingress, hooks: OpsHooks) -> Callable[[Request], Any]:
    """POST /reconcile (bearer CRMSYNC_OPS_TOKEN): `{"companies": [...]}` queues those (404 naming the ids
    Schematic has no company for, queuing none), no body a full run."""

    failures = _failures(ingress)

    async def queue(request: Request) -> Response:
        refused = _authorized(ingress, request, "/reconcile", failures)
        if refused is not None:
            return refused
        try:
            companies = _companies(await ingress.body(request), ingress.settings.max_json_depth)
        except BodyRefused as exc:
            return _refused(exc.status, exc.reason, close=True)
        except ValueError as exc:
            return _refused(400, str(exc))
        if companies != [ALL_COMPANIES] and hooks.unknown is not None:
            try:
                unknown = await run_in_threadpool(hooks.unknown, companies)
            except ServiceError as exc:  # cannot ask Schematic now: queue them; the runs report unknown ids
                log.warning("ops.companies_unchecked", error=type(exc).__name__, detail=str(exc))
                unknown = []
            if unknown:
                return _refused(404, f"no Schematic company with id {', '.join(unknown)}; nothing queued")
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


def approve(ingress: Ingress, hooks: OpsHooks) -> Callable[[Request], Any]:
    """POST /approve (bearer CRMSYNC_OPS_TOKEN): `{"scope": "all" | "companies", "companies": [...],
    "actor": "who"}` applies what a guard withheld, once, for that scope; the run records the actor."""

    failures = _failures(ingress)

    async def approved(request: Request) -> Response:
        refused = _authorized(ingress, request, "/approve", failures)
        if refused is not None:
            return refused
        if hooks.approve is None:
            return _refused(404, "POST /approve is off in this service")
        try:
            companies, actor = _approval(await ingress.body(request), ingress.settings.max_json_depth)
        except BodyRefused as exc:
            return _refused(exc.status, exc.reason, close=True)
        except ValueError as exc:
            return _refused(400, str(exc))
        try:
            result = await run_in_threadpool(hooks.approve, companies, actor)
        except CrmsyncError as exc:
            log.error("ops.approve_failed", actor=actor, error=type(exc).__name__, detail=str(exc))
            return JSONResponse({"error": str(exc)[:500]}, status_code=503)
        scope = "all" if companies is None else len(companies)
        log.info("ops.approved", actor=actor, scope=scope, status=result.get("status"), run_id=result.get("run_id"))
        return JSONResponse(result, status_code=200 if result.get("status") == "ok" else 409)

    return approved


def _failures(ingress: Ingress) -> RateLimit:
    """Wrong tokens allowed per client address (per endpoint)."""
    per_minute = ingress.settings.failed_tokens_per_minute
    return RateLimit(per_minute / 60, per_minute)


def _authorized(ingress: Ingress, request: Request, path: str, failures: RateLimit) -> Response | None:
    token = ingress.settings.ops_token
    if not token:
        return _refused(404, f"POST {path} is off: CRMSYNC_OPS_TOKEN is not set")
    client = request.client.host if request.client else "?"
    per_minute = ingress.settings.failed_tokens_per_minute
    if failures.left(client) < 1:  # guessing stops here: not even a right token is checked
        return _refused(429, f"more than {per_minute:g} wrong tokens a minute from this address; wait")
    given = request.headers.get("authorization", "")
    if not given.startswith("Bearer ") or not hmac.compare_digest(given[7:].encode(), token.encode()):
        failures.take(client)
        return _refused(401, "missing or wrong bearer token")
    return None


def _object(body: bytes, max_depth: int) -> dict[str, Any]:
    data = parse_json(body, max_depth)  # BadPayload is a ValueError: a 400; nested past [web] max_json_depth too
    if not isinstance(data, dict):
        raise ValueError('body must be a JSON object: {"companies": ["comp_…", …]}')
    return data


def _ids(companies: object) -> list[str]:
    if not isinstance(companies, list) or not companies or not all(isinstance(c, str) and c.strip() for c in companies):
        raise ValueError("companies must be a non-empty list of Schematic company ids")
    if len(companies) > MAX_COMPANIES:
        raise ValueError(f"at most {MAX_COMPANIES} companies per request")
    return sorted({c.strip()[:64] for c in companies} - {ALL_COMPANIES})


def _companies(body: bytes, max_depth: int) -> list[str]:
    """The company ids of a request body; an empty body (or no `companies`) means a full run."""
    if not body.strip():
        return [ALL_COMPANIES]
    companies = _object(body, max_depth).get("companies")
    return [ALL_COMPANIES] if companies is None else (_ids(companies) or [ALL_COMPANIES])


def _approval(body: bytes, max_depth: int) -> tuple[list[str] | None, str]:
    """(companies, None: all; actor) of an approval body."""
    data = _object(body, max_depth)
    actor = data.get("actor")
    if not isinstance(actor, str) or not actor.strip():
        raise ValueError('actor is required: who approves, e.g. {"scope": "all", "actor": "ana@example.com"}')
    scope = data.get("scope", "all")
    if scope == "all":
        return None, actor.strip()[:MAX_ACTOR]
    if scope != "companies":
        raise ValueError('scope must be "all" or "companies" (with "companies": [ids])')
    return _ids(data.get("companies")) or None, actor.strip()[:MAX_ACTOR]


def _iso(since: float | None) -> str:
    when = datetime.now(UTC) if since is None else datetime.fromtimestamp(since, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _refused(status: int, reason: str, *, close: bool = False) -> Response:
    log.warning("ops.reconcile_refused", status=status, reason=reason, condition=f"reconcile:{status}")
    return JSONResponse({"error": reason}, status_code=status, headers=refusal_headers(status, close=close))
