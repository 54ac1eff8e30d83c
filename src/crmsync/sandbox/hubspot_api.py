"""The HubSpot emulator's endpoints: deal search, list, read, batch read, associations, pipelines.

Each function takes the state (its lock held by the caller, `hubspot.py`) and a parsed
`Call`, and returns a `Reply` shaped as HubSpot's API answers, errors included.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from crmsync.sandbox import common
from crmsync.sandbox.common import Call, FaultRule, Reply, iso_z, seconds_header
from crmsync.sandbox.hubspot_search import SearchError, encode_cursor, parse_search, run_search

if TYPE_CHECKING:
    from crmsync.sandbox.hubspot import HubSpotState, StoredDeal

_CATEGORIES = {
    400: "VALIDATION_ERROR",
    401: "INVALID_AUTHENTICATION",
    403: "MISSING_SCOPES",
    404: "OBJECT_NOT_FOUND",
    409: "CONFLICT",
    429: "RATE_LIMITS",
}
DEFAULT_PROPERTIES = (
    "amount",
    "closedate",
    "createdate",
    "dealname",
    "dealstage",
    "hs_lastmodifieddate",
    "hs_object_id",
    "pipeline",
)
ALWAYS = ("hs_object_id", "createdate", "hs_lastmodifieddate")
PRIMARY = {"category": "HUBSPOT_DEFINED", "typeId": 5, "label": "Primary"}
UNLABELED = {"category": "HUBSPOT_DEFINED", "typeId": 341, "label": None}
# The company → deal direction of the same associations.
DEAL_WITH_PRIMARY_COMPANY = {"category": "HUBSPOT_DEFINED", "typeId": 6, "label": "Deal with Primary Company"}
COMPANY_TO_DEAL = {"category": "HUBSPOT_DEFINED", "typeId": 342, "label": None}
MAX_BATCH_READ, MAX_ASSOCIATION_READ, MAX_LIST_LIMIT = 100, 1000, 100
ASSOCIATION_PAGE_SIZE = 10_000  # targets per id per page by default: more than any seed has
_CACHE_SIZE = 32


def error_reply(status: int, message: str, **extra: object) -> Reply:
    """HubSpot's standard error body: status, message, correlationId, category."""
    category = _CATEGORIES.get(status, "INTERNAL_ERROR" if status >= 500 else "ERROR")
    body: dict[str, object] = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
    }
    body.update(extra)
    return Reply(status, body)


def rate_limit_reply(policy: str, message: str, retry_after: float | None = None) -> Reply:
    """HubSpot's 429 RATE_LIMIT body; `Retry-After` only when given (search never sends it)."""
    body = {
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": policy,
        "groupName": f"publicapi:private-app-api-calls-{policy.lower()}:62515",
    }
    headers = {} if retry_after is None else {"Retry-After": seconds_header(retry_after)}
    return Reply(429, body, headers)


def fault_reply(rule: FaultRule) -> Reply:
    """The reply an injected HubSpot fault answers with."""
    return common.fault_reply(
        rule,
        lambda status: error_reply(status, "Injected failure" if status < 500 else "internal error"),
        lambda retry_after: rate_limit_reply(
            "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.", retry_after
        ),
    )


def next_page(after: object) -> dict[str, Any]:
    """A `paging` object pointing at the page that starts at cursor `after`."""
    return {"next": {"after": str(after), "link": f"?after={after}"}}


def render_deal(deal: StoredDeal, requested: Iterable[str] | None) -> dict[str, Any]:
    """A SimplePublicObject: requested properties (null when unset) plus the three always sent."""
    names = dict.fromkeys([*(DEFAULT_PROPERTIES if requested is None else requested), *ALWAYS])
    body: dict[str, Any] = {
        "id": str(deal.id),
        "properties": {name: deal.properties.get(name) for name in names},
        "createdAt": iso_z(deal.created, millis=True),
        "updatedAt": iso_z(deal.updated, millis=True),
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
    try:
        request = parse_search(call.body)
    except SearchError as exc:
        return error_reply(400, str(exc))
    key = request.cache_key()
    ids = state.search_cache.get(key)
    if ids is None:
        live = ((deal.id, deal.properties) for deal in state.deals.values() if not deal.archived)
        ids = run_search(live, request)
        if len(state.search_cache) >= _CACHE_SIZE:
            state.search_cache.clear()
        state.search_cache[key] = ids
    page = ids[request.after : request.after + request.limit]
    body: dict[str, Any] = {
        "total": len(ids),
        "results": [render_deal(state.deals[str(i)], request.properties) for i in page],
    }
    following = request.after + len(page)
    if page and following < len(ids):
        body["paging"] = next_page(encode_cursor(following))
    return Reply(200, body)


def _batch(call: Call, limit: int) -> tuple[list[dict[str, Any]], Reply | None]:
    inputs = call.body.get("inputs") if isinstance(call.body, dict) else None
    if not isinstance(inputs, list) or not all(isinstance(i, dict) and "id" in i for i in inputs):
        return [], error_reply(400, 'inputs must be a list of {"id": ...} objects')
    if len(inputs) > limit:
        return [], error_reply(
            400, f"Too many inputs: {len(inputs)}; the maximum is {limit}", context={"limit": [str(limit)]}
        )
    return inputs, None


def _batch_body(results: list[dict[str, Any]], errors: list[dict[str, Any]], now: str) -> Reply:
    body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}
    if errors:
        body.update(numErrors=len(errors), errors=errors)
    return Reply(207 if errors else 200, body)


def batch_read_deals(state: HubSpotState, call: Call) -> Reply:
    """POST /crm/v3/objects/deals/batch/read: ≤100 ids; unknown ids → 207 with errors."""
    inputs, problem = _batch(call, MAX_BATCH_READ)
    if problem is not None:
        return problem
    ids = [str(i["id"]) for i in inputs]
    body = call.body if isinstance(call.body, dict) else {}
    id_property = body.get("idProperty") or "hs_object_id"
    by_key = _index(
        state, f"by:{id_property}", lambda: {deal.properties.get(id_property): deal for deal in state.deals.values()}
    )
    archived = _archived(call)
    found = [by_key.get(i) for i in ids]
    results = [render_deal(d, body.get("properties") or None) for d in found if d and d.archived == archived]
    missing = [i for i, d in zip(ids, found, strict=True) if d is None or d.archived != archived]
    errors = (
        [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "context": {"ids": missing},
                "errors": [],
                "links": {},
                "message": "Could not get some DEAL objects, they may be deleted or not exist. "
                "Check that ids are valid.",
            }
        ]
        if missing
        else []
    )
    return _batch_body(results, errors, iso_z(state.clock(), millis=True))


def list_deals(state: HubSpotState, call: Call) -> Reply:
    """GET /crm/v3/objects/deals: by id, `after` is the next id, limit ≤100."""
    raw_limit, raw_after = call.first("limit") or "10", call.first("after") or "0"
    if not raw_limit.isdigit() or int(raw_limit) > MAX_LIST_LIMIT or not raw_after.isdigit():
        return error_reply(400, f"limit must be 1..{MAX_LIST_LIMIT} and after a paging cursor")
    archived, after = _archived(call), int(raw_after)
    live = sorted((d for d in state.deals.values() if d.archived == archived and d.id >= after), key=lambda d: d.id)
    page = live[: int(raw_limit)]
    body: dict[str, Any] = {"results": [render_deal(d, _properties(call)) for d in page]}
    if len(live) > len(page):
        body["paging"] = next_page(live[len(page)].id)
    return Reply(200, body)


def get_deal(state: HubSpotState, call: Call) -> Reply:
    """GET /crm/v3/objects/deals/{deal_id}: one deal, 404 when unknown or in the other bin."""
    deal = state.deals.get(call.path_params["deal_id"])
    if deal is None or deal.archived != _archived(call):
        return error_reply(404, "Object not found.  objectId are usually numeric.")
    return Reply(200, render_deal(deal, _properties(call)))


class Direction(NamedTuple):
    """One direction of the deal-company associations: the singular of what it reads from, the
    plural of what it reads to, and the targets of one id (None: no associations)."""

    source: str
    target: str
    targets: Callable[[HubSpotState, str], list[dict[str, Any]] | None]


def _companies_of_deal(state: HubSpotState, deal_id: str) -> list[dict[str, Any]] | None:
    deal = state.deals.get(deal_id)
    if deal is None or deal.archived or not deal.company_ids:
        return None
    return [
        {"toObjectId": c, "associationTypes": [PRIMARY, UNLABELED] if c == deal.primary_company_id else [UNLABELED]}
        for c in sorted(deal.company_ids, key=lambda c: (len(c), c))
    ]


def _company_deals(state: HubSpotState) -> dict[str, list[StoredDeal]]:
    """company id → its live deals by id ascending."""
    found: dict[str, list[StoredDeal]] = {}
    for deal in sorted((d for d in state.deals.values() if not d.archived), key=lambda d: d.id):
        for company in dict.fromkeys(deal.company_ids):
            found.setdefault(company, []).append(deal)
    return found


def _index(state: HubSpotState, name: str, build: Callable[[], Any]) -> Any:
    """A lookup over the deals, built once between two changes of the state (`indexes`)."""
    index = state.indexes.get(name)
    if index is None:
        index = state.indexes[name] = build()
    return index


def _deals_of_company(state: HubSpotState, company_id: str) -> list[dict[str, Any]] | None:
    deals = _index(state, "company_deals", lambda: _company_deals(state)).get(company_id, [])
    return [
        {
            "toObjectId": str(d.id),
            "associationTypes": [DEAL_WITH_PRIMARY_COMPANY, COMPANY_TO_DEAL]
            if d.primary_company_id == company_id
            else [COMPANY_TO_DEAL],
        }
        for d in deals
    ] or None


DEAL_TO_COMPANIES = Direction("deal", "companies", _companies_of_deal)
COMPANY_TO_DEALS = Direction("company", "deals", _deals_of_company)


def read_associations(direction: Direction) -> Callable[[HubSpotState, Call], Reply]:
    """The handler of `POST /crm/v4/associations/{from}/{to}/batch/read` for one direction."""

    def handler(state: HubSpotState, call: Call) -> Reply:
        inputs, problem = _batch(call, MAX_ASSOCIATION_READ)
        if problem is not None:
            return problem
        size = max(1, state.association_page_size)
        results, errors = [], []
        for item in inputs:
            from_id, after = str(item["id"]), item.get("after") or "0"
            if not isinstance(after, str) or not after.isdigit():
                return error_reply(
                    400, f"Invalid after {after!r} for {direction.source} {from_id}: expected a paging cursor"
                )
            to = direction.targets(state, from_id)
            if to is None:
                errors.append(
                    {
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "context": {"fromObjectId": [from_id], "toObjectType": [direction.target]},
                        "errors": [],
                        "links": {},
                        "message": f"No {direction.target} is associated with {direction.source} {from_id}.",
                    }
                )
                continue
            start = int(after)
            result: dict[str, Any] = {"from": {"id": from_id}, "to": to[start : start + size]}
            if start + size < len(to):
                result["paging"] = next_page(start + size)
            results.append(result)
        return _batch_body(results, errors, iso_z(state.clock(), millis=True))

    handler.__doc__ = (
        f"POST /crm/v4/associations/…/batch/read, {direction.source} → {direction.target}: "
        f"≤{MAX_ASSOCIATION_READ} ids, each paged by its own `after`; none found → 207 errors."
    )
    return handler


def association_labels(state: HubSpotState, call: Call) -> Reply:
    """GET /crm/v4/associations/deals/companies/labels."""
    return Reply(200, {"results": [PRIMARY, UNLABELED]})


def list_pipelines(state: HubSpotState, call: Call) -> Reply:
    """GET /crm/v3/pipelines/deals: pipelines with stage metadata isClosed / probability."""
    stamp = "2024-01-01T00:00:00.000Z"
    results = [
        {
            "id": p.id,
            "label": p.label,
            "displayOrder": n,
            "archived": False,
            "createdAt": stamp,
            "updatedAt": stamp,
            "stages": [
                {
                    "id": s.id,
                    "label": s.label,
                    "displayOrder": k,
                    "archived": False,
                    "createdAt": stamp,
                    "updatedAt": stamp,
                    "writePermissions": "CRUD_ALLOWED",
                    "metadata": {
                        "isClosed": "true" if s.is_closed else "false",
                        "probability": str(float(s.probability)),
                    },
                }
                for k, s in enumerate(p.stages)
            ],
        }
        for n, p in enumerate(state.pipelines.values())
    ]
    return Reply(200, {"results": results})
