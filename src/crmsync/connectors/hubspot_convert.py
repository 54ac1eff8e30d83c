"""Pieces of the HubSpot connector without a connection: search filter groups and request bodies,
reading a raw answer's JSON page, deal conversion, primary company choice, and the translation of SDK
errors into crmsync's (called from hubspot.py).

Requests and answers are plain JSON (dicts as HubSpot sends them, camelCase keys): the connector
reads raw bodies, so no SDK model is built per deal or per association.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import urllib3

from crmsync.connectors.base import DealQuery
from crmsync.domain import Deal, DealId, Source
from crmsync.errors import AuthError, RateLimited, RequestRejected, ServiceError, ServiceUnavailable

SERVICE = "HubSpot API"
URL_SETTING = "HUBSPOT_API_URL"
TOKEN_SETTING = "HUBSPOT_ACCESS_TOKEN"
PRIMARY_TYPE_ID = 5
PAGE = 200  # search's maximum page size


def lowered(values: Sequence[str]) -> list[str]:
    """Values for an `IN` filter: HubSpot lowercases the stored value before comparing, so a value
    sent in mixed case (`ClosedWon`) would never match (search guide); sorted, without repeats."""
    return sorted({v.lower() for v in values})


def _filter(prop: str, operator: str, values: list[str]) -> dict[str, Any]:
    return {"propertyName": prop, "operator": operator, "values": values}


def filter_groups(query: DealQuery, last_id: int | None) -> list[dict[str, Any]]:
    """One group per deal filter (groups OR, filters AND); at most 5 groups, as HubSpot allows."""
    filters = query.filters
    if len(filters) > 5:  # too many groups: read the union of stages and let translation narrow
        stages = lowered([s for f in filters for s in f.stages])
        groups = [[_filter("dealstage", "IN", stages)]]
    else:
        groups = []
        for f in filters:
            group = [_filter("dealstage", "IN", lowered(f.stages))]
            if f.pipelines is not None:
                group.append(_filter("pipeline", "IN", lowered(f.pipelines)))
            groups.append(group)
    if last_id is not None:
        for group in groups:
            group.append({"propertyName": "hs_object_id", "operator": "GT", "value": str(last_id)})
    return [{"filters": g} for g in groups]


def primary(targets: Sequence[dict[str, Any]]) -> str | None:
    """The primary company of a deal (v4 association targets); else the lowest company id (deterministic)."""
    if not targets:
        return None
    for target in targets:
        for kind in target.get("associationTypes") or []:
            if kind.get("typeId") == PRIMARY_TYPE_ID or str(kind.get("label") or "").lower() == "primary":
                return str(target["toObjectId"])
    return str(min(int(t["toObjectId"]) for t in targets))


def deal(raw: dict[str, Any], company: str | None = None) -> Deal:
    """A deal from a search or batch-read result as HubSpot sends it (`id`, `properties`, `updatedAt`),
    with its primary company when known."""
    props: dict[str, str | None] = dict(raw.get("properties") or {})
    return Deal(
        source=Source.HUBSPOT,
        id=DealId(str(raw["id"])),
        company_ref=company,
        stage=props.get("dealstage") or "",
        pipeline=props.get("pipeline"),
        close_date=instant(props.get("closedate")),
        modified_at=instant(props.get("hs_lastmodifieddate")) or instant(raw.get("updatedAt")),
        properties=props,
        name=props.get("dealname"),
    )


def with_company(deal: Deal, company: str | None) -> Deal:
    return replace(deal, company_ref=company)


def instant(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:  # an absurd date (a 400-digit epoch, a year past 9999 in UTC) is no date, not a crash
        if raw.isascii() and raw.isdigit():
            return datetime.fromtimestamp(int(raw) / 1000, tz=UTC)
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def translate(exc: Any) -> ServiceError:
    status = int(getattr(exc, "status", 0) or 0)
    message = error_message(exc)
    if status == 401 or status == 403:
        return AuthError(
            SERVICE, f"rejected the access token ({status}: {message})", setting=TOKEN_SETTING, status=status
        )
    if status == 429:
        return RateLimited(SERVICE, f"rate limited ({message})", setting=TOKEN_SETTING)
    if status == 0 or status >= 500:
        return ServiceUnavailable(SERVICE, f"{message or 'no answer'}", setting=URL_SETTING, status=status or None)
    return RequestRejected(SERVICE, f"{status}: {message}", status=status)


def error_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    try:
        parsed = json.loads(body) if body else {}
    except (TypeError, ValueError):
        parsed = {}
    if isinstance(parsed, dict) and parsed.get("message"):
        return str(parsed["message"])
    return str(getattr(exc, "reason", "") or "")


def search_body(
    groups: list[dict[str, Any]], sort: str, properties: Sequence[str], after: str | None, *, limit: int = PAGE
) -> Any:
    """A search request as HubSpot's JSON (no SDK model), sorted ascending on `sort`."""
    body: dict[str, Any] = {
        "filterGroups": groups,
        "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
        "properties": list(properties),
        "limit": limit,
    }
    if after is not None:
        body["after"] = after
    return body


def next_after(page: dict[str, Any]) -> Any:
    """`paging.next.after` of a page (or of one association result), or None."""
    return ((page.get("paging") or {}).get("next") or {}).get("after")


def json_page(response: Any) -> dict[str, Any] | None:
    """The body of a raw 2xx answer as a JSON object with a `results` list, or None when it is not one
    (not JSON, or cut short while read: a read, which the connector sends again)."""
    try:
        body = json.loads(response.data)
    except (ValueError, TypeError, urllib3.exceptions.HTTPError):
        return None
    finally:
        response.release_conn()
    return body if isinstance(body, dict) and isinstance(body.get("results"), list) else None
