"""The Schematic emulator's company-override endpoints, and the request helpers all share.

Each endpoint takes the state (lock held by the caller, `schematic.py`) and a parsed `Call`
and returns a `Reply` in Schematic's `{"data", "params"}` envelope, or `{"error"}`. Lists are
newest first with `limit` (≤250, default 100) and a record `offset`. Catalog reads: `schematic_catalog.py`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from crmsync.sandbox.common import Call, Reply, seconds_header
from crmsync.sandbox.schematic_model import (
    InvalidField,
    Record,
    override_fields,
    parse_time,
    render_company,
    render_feature,
)

Handler = Callable[["SchematicState", Call], Reply]
Select = Callable[["SchematicState", Call, dict[str, Any]], list[Record]]

if TYPE_CHECKING:
    from crmsync.sandbox.schematic import SchematicState

MAX_LIMIT, DEFAULT_LIMIT, MAX_IDS = 250, 100, 100
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_BURST = {"mutation": 120, "global": 600}


def error(status: int, message: str) -> Reply:
    """Schematic's error body: `{"error": message}`."""
    return Reply(status, {"error": message})


def rate_limited(method: str, retry_after: float) -> Reply:
    """Schematic's 429: `{"bucket", "error"}`, `Retry-After` and `X-RateLimit-*` (Reset relative;
    none remaining, or there would be no 429)."""
    bucket = "mutation" if method.upper() in WRITE_METHODS else "global"
    headers = {
        "Retry-After": seconds_header(retry_after),
        "X-RateLimit-Limit": str(_BURST[bucket]),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(max(1, round(retry_after))),
    }
    return Reply(429, {"bucket": bucket, "error": "Rate limit exceeded"}, headers)


def mutation_limited(retry_after: float, burst: float) -> Reply:
    """The mutation bucket's 429 (reference/schematic-api.md §8): `{"bucket": "mutation", "error"}`,
    `Retry-After` in whole seconds (at least 1) and `X-RateLimit-Limit` (the burst), `-Remaining` 0
    and `-Reset` (relative seconds)."""
    seconds = str(max(1, math.ceil(retry_after)))
    headers = {
        "Retry-After": seconds,
        "X-RateLimit-Limit": str(int(burst)),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": seconds,
    }
    return Reply(429, {"bucket": "mutation", "error": "Rate limit exceeded"}, headers)


class Rejected(Exception):
    """Stop handling and answer `reply` (a 400 or 404)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.reply = error(status, message)


def ok(data: Any, params: dict[str, Any] | None = None, status: int = 200) -> Reply:
    """A success in the envelope."""
    return Reply(status, {"data": data, "params": params or {}})


def int_param(call: Call, name: str, default: int) -> int:
    """A non-negative integer query parameter, or 400."""
    raw = call.first(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Rejected(400, f"invalid {name} {raw!r}: expected an integer") from None
    if value < 0:
        raise Rejected(400, f"invalid {name} {value}: must not be negative")
    return value


def id_filter(call: Call, params: dict[str, Any], plural: str, singular: str | None = None) -> set[str] | None:
    """The union of `singular=` and repeated `plural=` / `plural[]=` values; None when absent."""
    many = call.many(plural, f"{plural}[]")
    if len(many) > MAX_IDS:
        raise Rejected(400, f"too many {plural}: {len(many)}; the maximum is {MAX_IDS}")
    if many:
        params[plural] = many
    one = call.first(singular) if singular else None
    if one and singular:
        params[singular] = one
    values = set(many) | ({one} if one else set())
    return values or None


def page(call: Call, records: Iterable[Record], params: dict[str, Any], render: Callable[[Record], Record]) -> Reply:
    """One page of `records` by limit/offset, rendered, with the paging echoed in params."""
    limit, offset = int_param(call, "limit", DEFAULT_LIMIT), int_param(call, "offset", 0)
    if limit > MAX_LIMIT:
        raise Rejected(400, f"invalid limit {limit}: the maximum is {MAX_LIMIT}")
    params.update(limit=limit, offset=offset)
    return ok([render(r) for r in list(records)[offset : offset + limit]], params)


def handles(fn: Handler) -> Handler:
    """Turn a `Rejected` raised by an endpoint into its reply."""

    def wrapped(state: SchematicState, call: Call) -> Reply:
        try:
            return fn(state, call)
        except Rejected as exc:
            return exc.reply

    wrapped.__doc__ = fn.__doc__
    return wrapped


def listing(
    select: Select, render: Callable[[SchematicState], Callable[[Record], Record]], path: str
) -> tuple[Handler, Handler]:
    """The list and count endpoints of one collection: `select` filters (echoing into params),
    the list pages and renders, the count answers `data.count` with the same filters."""

    @handles
    def list_records(state: SchematicState, call: Call) -> Reply:
        params: dict[str, Any] = {}
        return page(call, select(state, call, params), params, render(state))

    @handles
    def count_records(state: SchematicState, call: Call) -> Reply:
        params: dict[str, Any] = {}
        return ok({"count": len(select(state, call, params))}, params)

    list_records.__doc__ = f"GET {path}: filtered, newest first, paged."
    count_records.__doc__ = f"GET {path}/count: the list's filters, `data.count`."
    return list_records, count_records


# --- company overrides -------------------------------------------------------------------


def _override(state: SchematicState) -> Callable[[Record], Record]:
    return lambda r: {
        **r,
        "notes": [dict(n) for n in r["notes"]],
        "company": render_company(state.companies[r["company_id"]], state.plans, state.environment_id),
        "feature": render_feature(state.features[r["feature_id"]]),
    }


def _overrides(state: SchematicState, call: Call, params: dict[str, Any]) -> list[Record]:
    companies = id_filter(call, params, "company_ids", "company_id")
    features = id_filter(call, params, "feature_ids", "feature_id")
    ids = id_filter(call, params, "ids")
    q = (call.first("q") or "").casefold()
    without_expired = (call.first("without_expired") or "").lower() == "true"
    if without_expired:
        params["without_expired"] = True
    now = state.clock()

    def keep(r: Record) -> bool:
        names = state.companies[r["company_id"]]["name"] + " " + state.features[r["feature_id"]]["name"]
        return (
            (companies is None or r["company_id"] in companies)
            and (features is None or r["feature_id"] in features)
            and (ids is None or r["id"] in ids)
            and (not q or q in names.casefold())
            and not (without_expired and r["expiration_date"] and parse_time(r["expiration_date"]) <= now)
        )

    if companies is None and features is None and ids is None and not q and not without_expired:
        return state.override_records()  # the common full listing: no per-record filter
    candidates = state.override_records() if companies is None else state.override_records_of(companies)
    return [r for r in candidates if keep(r)]


list_overrides, count_overrides = listing(_overrides, _override, "/company-overrides")


def _existing(state: SchematicState, call: Call) -> Record:
    override_id = call.path_params["override_id"]
    record = state.override_record(override_id)
    if record is None:
        raise Rejected(404, f"company override {override_id} not found")
    return record


@handles
def get_override(state: SchematicState, call: Call) -> Reply:
    """GET /company-overrides/{id}."""
    return ok(_override(state)(_existing(state, call)))


def _fields(call: Call) -> dict[str, Any]:
    if not isinstance(call.body, dict):
        raise Rejected(400, "the request body must be a JSON object")
    if call.body.get("value_type") is None:
        raise Rejected(400, "value_type is required")
    try:
        return override_fields(call.body)
    except InvalidField as exc:
        raise Rejected(400, str(exc)) from None


@handles
def create_override(state: SchematicState, call: Call) -> Reply:
    """POST /company-overrides → 201; company_id, feature_id, value_type required."""
    body = call.body if isinstance(call.body, dict) else {}
    missing = [name for name in ("company_id", "feature_id", "value_type") if not body.get(name)]
    if missing:
        raise Rejected(400, f"missing required fields: {', '.join(missing)}")
    fields = _fields(call)
    if body["company_id"] not in state.companies:
        raise Rejected(404, f"company {body['company_id']} not found")
    if body["feature_id"] not in state.features:
        raise Rejected(404, f"feature {body['feature_id']} not found")
    oid = state.create_override(body["company_id"], body["feature_id"], fields)
    record = state.override_record(oid)
    assert record is not None  # just created under the same lock
    return ok(_override(state)(record), status=201)


@handles
def update_override(state: SchematicState, call: Call) -> Reply:
    """PUT /company-overrides/{id}: value_type required; present fields set, null clears, note appends."""
    record = _existing(state, call)
    fields = _fields(call)
    return ok(_override(state)(state.update_override(record["id"], fields)))


@handles
def delete_override(state: SchematicState, call: Call) -> Reply:
    """DELETE /company-overrides/{id}: `{"deleted": true}`; 404 for unknown ids."""
    record = _existing(state, call)
    state.delete_override(record["id"])
    return ok({"deleted": True})
