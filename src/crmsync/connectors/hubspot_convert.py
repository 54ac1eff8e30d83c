"""Pure pieces of the HubSpot connector: search filter groups, deal conversion, primary
company choice, and the translation of SDK errors into crmsync's (called from hubspot.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from hubspot.crm.deals import Filter, FilterGroup

from crmsync.connectors.base import DealQuery
from crmsync.domain import Deal, DealId, Source
from crmsync.errors import AuthError, RateLimited, RequestRejected, ServiceError, ServiceUnavailable

SERVICE = "HubSpot API"
URL_SETTING = "HUBSPOT_API_URL"
TOKEN_SETTING = "HUBSPOT_ACCESS_TOKEN"
PRIMARY_TYPE_ID = 5


def lowered(values: Sequence[str]) -> list[str]:
    """Values for an `IN` filter: HubSpot lowercases the stored value before comparing, so a value
    sent in mixed case (`ClosedWon`) would never match (search guide); sorted, without repeats."""
    return sorted({v.lower() for v in values})


def filter_groups(query: DealQuery, last_id: int | None) -> list[FilterGroup]:
    """One group per deal filter (groups OR, filters AND); at most 5 groups, as HubSpot allows."""
    filters = query.filters
    if len(filters) > 5:  # too many groups: read the union of stages and let translation narrow
        stages = lowered([s for f in filters for s in f.stages])
        groups = [[Filter(property_name="dealstage", operator="IN", values=stages)]]
    else:
        groups = []
        for f in filters:
            group = [Filter(property_name="dealstage", operator="IN", values=lowered(f.stages))]
            if f.pipelines is not None:
                group.append(Filter(property_name="pipeline", operator="IN", values=lowered(f.pipelines)))
            groups.append(group)
    if last_id is not None:
        for group in groups:
            group.append(Filter(property_name="hs_object_id", operator="GT", value=str(last_id)))
    return [FilterGroup(filters=g) for g in groups]


def primary(targets: Sequence[Any]) -> str | None:
    """The primary company of a deal; else the lowest company id (deterministic)."""
    if not targets:
        return None
    for target in targets:
        for kind in target.association_types or []:
            if kind.type_id == PRIMARY_TYPE_ID or (kind.label or "").lower() == "primary":
                return str(target.to_object_id)
    return str(min(int(t.to_object_id) for t in targets))


def deal(raw: Any) -> Deal:
    props: dict[str, str | None] = dict(raw.properties or {})
    return Deal(
        source=Source.HUBSPOT,
        id=DealId(str(raw.id)),
        company_ref=None,
        stage=props.get("dealstage") or "",
        pipeline=props.get("pipeline"),
        close_date=instant(props.get("closedate")),
        modified_at=instant(props.get("hs_lastmodifieddate")) or raw.updated_at,
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
