"""The HubSpot emulator's endpoints: deal search, list, read, batch read, associations, pipelines.

Each function takes the state (its lock held by the caller, `hubspot.py`) and a parsed
`Call`, and returns a `Reply` shaped as HubSpot's API answers, errors included.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from crmsync.sandbox.common import Call, FaultRule, Reply, iso_z, seconds_header
from crmsync.sandbox.hubspot_search import SearchError, parse_search, run_search

if TYPE_CHECKING:
    from crmsync.sandbox.hubspot import HubSpotState, StoredDeal

_CATEGORIES = {400: "VALIDATION_ERROR", 401: "INVALID_AUTHENTICATION", 403: "MISSING_SCOPES",
               404: "OBJECT_NOT_FOUND", 409: "CONFLICT", 429: "RATE_LIMITS"}
DEFAULT_PROPERTIES = ("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate",
                      "hs_object_id", "pipeline")
ALWAYS = ("hs_object_id", "createdate", "hs_lastmodifieddate")
PRIMARY = {"category": "HUBSPOT_DEFINED", "typeId": 5, "label": "Primary"}
UNLABELED = {"category": "HUBSPOT_DEFINED", "typeId": 341, "label": None}
# The company → deal direction of the same associations.
DEAL_WITH_PRIMARY_COMPANY = {"category": "HUBSPOT_DEFINED", "typeId": 6, "label": "Deal with Primary Company"}
COMPANY_TO_DEAL = {"category": "HUBSPOT_DEFINED", "typeId": 342, "label": None}
MAX_BATCH_READ, MAX_ASSOCIATION_READ, MAX_LIST_LIMIT = 100, 1000, 100
_CACHE_SIZE = 32


def error_reply(status: int, message: str, **extra: object) -> Reply:
    """HubSpot's standard error body: status, message, correlationId, category."""
    category = _CATEGORIES.get(status, "INTERNAL_ERROR" if status >= 500 else "ERROR")
    body: dict[str, object] = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
                               "category": category}
    body.update(extra)
    return Reply(status, body)


def rate_limit_reply(policy: str, message: str, retry_after: float | None = None) -> Reply:
    """HubSpot's 429 RATE_LIMIT body; `Retry-After` only when given (search never sends it)."""
    body = {"status": "error", "message": message, "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()), "policyName": policy,
            "groupName": f"publicapi:private-app-api-calls-{policy.lower()}:62515"}
    headers = {} if retry_after is None else {"Retry-After": seconds_header(retry_after)}
    return Reply(429, body, headers)


def fault_reply(rule: FaultRule) -> Reply:
    """The reply an injected HubSpot fault answers with."""
    if rule.status == 429:
        return rate_limit_reply("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.",
                                rule.retry_after)
    reply = error_reply(rule.status, "Injected failure" if rule.status < 500 else "internal error")
    if rule.retry_after is not None:
        reply.headers["Retry-After"] = seconds_header(rule.retry_after)
    return reply


def render_deal(deal: StoredDeal, requested: Iterable[str] | None) -> dict[str, Any]:
    """A SimplePublicObject: requested properties (null when unset) plus the three always sent."""
    names = dict.fromkeys([*(DEFAULT_PROPERTIES if requested is None else requested), *ALWAYS])
    body: dict[str, Any] = {
        "id": str(deal.id), "properties": {name: deal.properties.get(name) for name in names},
        "createdAt": iso_z(deal.created, millis=True), "updatedAt": iso_z(deal.updated, millis=True),
        "archived": deal.archived,
    }
    if deal.archived_at is not None:
        body["archivedAt"] = iso_z(deal.archived_at, millis=True)
    return body


def _properties(call: Call) -> list[str] | None:
    values = [name for raw in call.many("properties") for name in raw.split(",") if name]
    return values or None


def _archived(call: Call) -> bool:
    return (call.first("archived") or "false").lower() == "true"


def search_deals(state: HubSpotState, call: Call) -> Reply:
    """POST /crm/v3/objects/deals/search: filter, sort, one page, `total`, `paging.next.after`."""
    date_props = frozenset(state.date_properties)
    try:
        request = parse_search(call.body, date_props)
    except SearchError as exc:
        return error_reply(400, str(exc))
    key = (*request.cache_key(), date_props)
    ids = state.search_cache.get(key)
    if ids is None:
        live = ((deal.id, deal.properties) for deal in state.deals.values() if not deal.archived)
        ids = run_search(live, request, date_props)
        if len(state.search_cache) >= _CACHE_SIZE:
            state.search_cache.clear()
        state.search_cache[key] = ids
    page = ids[request.after:request.after + request.limit]
    body: dict[str, Any] = {"total": len(ids),
                            "results": [render_deal(state.deals[str(i)], request.properties) for i in page]}
    following = request.after + len(page)
    if page and following < len(ids):
        body["paging"] = {"next": {"after": str(following), "link": f"?after={following}"}}
    return Reply(200, body)


def _batch(call: Call, limit: int) -> tuple[list[str], Reply | None]:
    inputs = call.body.get("inputs") if isinstance(call.body, dict) else None
    if not isinstance(inputs, list) or not all(isinstance(i, dict) and "id" in i for i in inputs):
        return [], error_reply(400, "inputs must be a list of {\"id\": ...} objects")
    if len(inputs) > limit:
        return [], error_reply(400, f"Too many inputs: {len(inputs)}; the maximum is {limit}",
                               context={"limit": [str(limit)]})
    return [str(i["id"]) for i in inputs], None


def _batch_body(results: list[dict[str, Any]], errors: list[dict[str, Any]], now: str) -> Reply:
    body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}
    if errors:
        body.update(numErrors=len(errors), errors=errors)
    return Reply(207 if errors else 200, body)


def batch_read_deals(state: HubSpotState, call: Call) -> Reply:
    """POST /crm/v3/objects/deals/batch/read: ≤100 ids; unknown ids → 207 with errors."""
    ids, problem = _batch(call, MAX_BATCH_READ)
    if problem is not None:
        return problem
    body = call.body if isinstance(call.body, dict) else {}
    id_property = body.get("idProperty") or "hs_object_id"
    by_key = {deal.properties.get(id_property): deal for deal in state.deals.values()}
    archived = _archived(call)
    found = [by_key.get(i) for i in ids]
    results = [render_deal(d, body.get("properties") or None) for d in found if d and d.archived == archived]
    missing = [i for i, d in zip(ids, found, strict=True) if d is None or d.archived != archived]
    errors = [{"status": "error", "category": "OBJECT_NOT_FOUND", "context": {"ids": missing}, "errors": [],
               "message": "Could not get some DEAL objects, they may be deleted or not exist. "
                          "Check that ids are valid."}] if missing else []
    return _batch_body(results, errors, iso_z(state.clock(), millis=True))


def list_deals(state: HubSpotState, call: Call) -> Reply:
    """GET /crm/v3/objects/deals: by id, `after` is the next id, limit ≤100."""
    raw_limit, raw_after = call.first("limit") or "10", call.first("after") or "0"
    if not raw_limit.isdigit() or int(raw_limit) > MAX_LIST_LIMIT or not raw_after.isdigit():
        return error_reply(400, f"limit must be 1..{MAX_LIST_LIMIT} and after a paging cursor")
    archived, after = _archived(call), int(raw_after)
    live = sorted((d for d in state.deals.values() if d.archived == archived and d.id >= after),
                  key=lambda d: d.id)
    page = live[:int(raw_limit)]
    body: dict[str, Any] = {"results": [render_deal(d, _properties(call)) for d in page]}
    if len(live) > len(page):
        following = live[len(page)].id
        body["paging"] = {"next": {"after": str(following), "link": f"?after={following}"}}
    return Reply(200, body)


def get_deal(state: HubSpotState, call: Call) -> Reply:
    """GET /crm/v3/objects/deals/{deal_id}: one deal, 404 when unknown or in the other bin."""
    deal = state.deals.get(call.path_params["deal_id"])
    if deal is None or deal.archived != _archived(call):
        return error_reply(404, "Object not found.  objectId are usually numeric.")
    return Reply(200, render_deal(deal, _properties(call)))


def read_associations(state: HubSpotState, call: Call) -> Reply:
    """POST /crm/v4/associations/deals/companies/batch/read: ≤1000 ids; none found → 207 errors."""
    ids, problem = _batch(call, MAX_ASSOCIATION_READ)
    if problem is not None:
        return problem
    results, errors = [], []
    for deal_id in ids:
        deal = state.deals.get(deal_id)
        if deal is None or deal.archived or not deal.company_ids:
            errors.append({"status": "error", "category": "OBJECT_NOT_FOUND",
                           "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                           "context": {"fromObjectId": [deal_id], "toObjectType": ["companies"]},
                           "errors": [],
                           "message": f"No companies is associated with deal {deal_id}."})
            continue
        to = [{"toObjectId": int(c) if c.isdigit() else c,
               "associationTypes": [PRIMARY, UNLABELED] if c == deal.primary_company_id else [UNLABELED]}
              for c in sorted(deal.company_ids, key=lambda c: (len(c), c))]
        results.append({"from": {"id": deal_id}, "to": to})
    return _batch_body(results, errors, iso_z(state.clock(), millis=True))


def read_company_deals(state: HubSpotState, call: Call) -> Reply:
    """POST /crm/v4/associations/companies/deals/batch/read: the deals of ≤1000 companies."""
    ids, problem = _batch(call, MAX_ASSOCIATION_READ)
    if problem is not None:
        return problem
    results, errors = [], []
    for company_id in ids:
        deals = sorted((d for d in state.deals.values() if not d.archived and company_id in d.company_ids),
                       key=lambda d: d.id)
        if not deals:
            errors.append({"status": "error", "category": "OBJECT_NOT_FOUND",
                           "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                           "context": {"fromObjectId": [company_id], "toObjectType": ["deals"]},
                           "errors": [], "message": f"No deals is associated with company {company_id}."})
            continue
        to = [{"toObjectId": d.id,
               "associationTypes": [DEAL_WITH_PRIMARY_COMPANY, COMPANY_TO_DEAL]
               if d.primary_company_id == company_id else [COMPANY_TO_DEAL]}
              for d in deals]
        results.append({"from": {"id": company_id}, "to": to})
    return _batch_body(results, errors, iso_z(state.clock(), millis=True))


def association_labels(state: HubSpotState, call: Call) -> Reply:
    """GET /crm/v4/associations/deals/companies/labels."""
    return Reply(200, {"results": [PRIMARY, UNLABELED]})


def list_pipelines(state: HubSpotState, call: Call) -> Reply:
    """GET /crm/v3/pipelines/deals: pipelines with stage metadata isClosed / probability."""
    stamp = "2024-01-01T00:00:00.000Z"
    results = [{"id": p.id, "label": p.label, "displayOrder": n, "archived": False,
                "createdAt": stamp, "updatedAt": stamp,
                "stages": [{"id": s.id, "label": s.label, "displayOrder": k, "archived": False,
                            "createdAt": stamp, "updatedAt": stamp, "writePermissions": "CRUD_ALLOWED",
                            "metadata": {"isClosed": "true" if s.is_closed else "false",
                                         "probability": str(float(s.probability))}}
                           for k, s in enumerate(p.stages)]}
               for n, p in enumerate(state.pipelines.values())]
    return Reply(200, {"results": results})
