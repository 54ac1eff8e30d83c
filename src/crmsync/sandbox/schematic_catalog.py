"""The Schematic emulator's catalog reads: companies (list, count, get, lookup), features,
flags and plan entitlements.

Endpoint functions like those of `schematic_api.py` (whose helpers they use), registered by
`schematic.py`. Company lookup accepts keys only as `?keys[k]=v`, the form the SDKs generated
from the spec send (PY-SDK `core/query_encoder.py`); any other spelling is a 400.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from crmsync.sandbox.common import Call, Reply
from crmsync.sandbox.schematic_api import Rejected, handles, id_filter, listing, ok, page
from crmsync.sandbox.schematic_model import (
    Record,
    newest,
    render_company,
    render_feature,
    render_flag,
    render_plan,
)

if TYPE_CHECKING:
    from crmsync.sandbox.schematic import SchematicState


def _company(state: SchematicState) -> Callable[[Record], Record]:
    return lambda c: render_company(c, state.plans, state.environment_id)


def _companies(state: SchematicState, call: Call, params: dict[str, Any]) -> list[Record]:
    ids = id_filter(call, params, "ids")
    q, plan = (call.first("q") or "").casefold(), call.first("plan_version_id")
    if q:
        params["q"] = q
    if plan:
        params["plan_version_id"] = plan
    return [
        c
        for c in newest(state.companies.values())
        if (ids is None or c["id"] in ids)
        and (not plan or c["plan_version_id"] == plan)
        and (not q or q in c["name"].casefold() or any(q in v.casefold() for _, v in c["keys"].values()))
    ]


list_companies, count_companies = listing(_companies, _company, "/companies")


@handles
def get_company(state: SchematicState, call: Call) -> Reply:
    """GET /companies/{company_id}."""
    company = state.companies.get(call.path_params["company_id"])
    if company is None:
        raise Rejected(404, "company not found")
    return ok(_company(state)(company))


def _lookup_keys(call: Call) -> dict[str, str]:
    """Keys as `?keys[k]=v`; anything else (`?keys={...}`, `?k=v`) is refused, so that a client
    spelling them differently fails in tests rather than in production."""
    other = sorted(name for name in call.query if not (name.startswith("keys[") and name.endswith("]")))
    if other:
        raise Rejected(400, f"invalid query parameters {', '.join(other)}: send keys as keys[name]=value")
    return {name[5:-1]: values[0] for name, values in call.query.items()}


@handles
def lookup_company(state: SchematicState, call: Call) -> Reply:
    """GET /companies/lookup: the one company holding any of the keys; 404 when none."""
    keys = _lookup_keys(call)
    if not keys:
        raise Rejected(400, "keys is required")
    found = {c["id"]: c for k, v in keys.items() if (c := state.company_with_key(k, v)) is not None}
    if not found:
        raise Rejected(404, "company not found")
    if len(found) > 1:
        raise Rejected(400, f"keys match more than one company: {', '.join(sorted(found))}")
    return ok(_company(state)(next(iter(found.values()))), {"keys": keys})


@handles
def list_features(state: SchematicState, call: Call) -> Reply:
    """GET /features."""
    params: dict[str, Any] = {}
    ids = id_filter(call, params, "ids")
    q = (call.first("q") or "").casefold()
    records = [
        f for f in newest(state.features.values()) if (ids is None or f["id"] in ids) and q in f["name"].casefold()
    ]
    return page(call, records, params, render_feature)


@handles
def get_feature(state: SchematicState, call: Call) -> Reply:
    """GET /features/{feature_id}."""
    feature = state.features.get(call.path_params["feature_id"])
    if feature is None:
        raise Rejected(404, "feature not found")
    return ok(render_feature(feature))


@handles
def list_flags(state: SchematicState, call: Call) -> Reply:
    """GET /flags: `q` matches a flag's key or name."""
    params: dict[str, Any] = {}
    q = (call.first("q") or "").casefold()
    if q:
        params["q"] = q
    ids = id_filter(call, params, "ids")
    flags = [
        flag
        for f in newest(state.features.values())
        if (flag := render_flag(f)) is not None
        and (not q or q in flag["key"].casefold() or q in flag["name"].casefold())
        and (ids is None or flag["id"] in ids)
    ]
    return page(call, flags, params, lambda flag: flag)


@handles
def list_entitlements(state: SchematicState, call: Call) -> Reply:
    """GET /plan-entitlements: by plan_version_id, plan_id, feature_id(s), ids."""
    params: dict[str, Any] = {}
    versions = id_filter(call, params, "plan_version_ids", "plan_version_id")
    plans = id_filter(call, params, "plan_ids", "plan_id")
    features = id_filter(call, params, "feature_ids", "feature_id")
    ids = id_filter(call, params, "ids")
    records = [
        e
        for e in newest(state.entitlements.values())
        if (versions is None or e["plan_version_id"] in versions)
        and (plans is None or e["plan_id"] in plans)
        and (features is None or e["feature_id"] in features)
        and (ids is None or e["id"] in ids)
    ]

    def render(e: Record) -> Record:
        return {
            **e,
            "feature": render_feature(state.features[e["feature_id"]]),
            "plan": render_plan(state.plans[e["plan_id"]]),
            "currency_prices": [],
            "warning_tiers": [],
        }

    return page(call, records, params, render)
