"""The only code that speaks Schematic's API: companies, features, plan entitlements, overrides.

Lists page with limit 250 and stop on a short page (Schematic sends no total or next
link); filters go as repeated keys, at most 100 ids per call. Responses come in a
`{data, params}` envelope and become domain objects here; one that cannot be read is a
ServiceUnavailable naming the request (`_readable`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from crmsync.domain import (
    Company,
    CompanyId,
    Feature,
    FeatureId,
    LiveOverride,
    MetricPeriod,
    MonthReset,
    OverrideId,
    OverrideValue,
    ValueType,
    gc_paused,
)
from crmsync.errors import RequestRejected, ServiceUnavailable
from crmsync.mapping.crm_schema import Trait
from crmsync.reconcile.entitlements import PlanEntitlements
from crmsync.reconcile.plan import value_json
from crmsync.schematic.metadata import MetadataCache
from crmsync.schematic.transport import SERVICE, URL_SETTING, OutcomeUnknown, Transport

PAGE = 250
MAX_IDS = 100


class SchematicClient:
    """Typed calls over a `Transport`; use as a context manager to close the pool."""

    def __init__(self, transport: Transport, metadata_max_age: float = 0.0) -> None:
        """`metadata_max_age`: seconds features and plan entitlements are kept (0: read every time)."""
        self.transport = transport
        self.metadata = MetadataCache(metadata_max_age)

    def __enter__(self) -> SchematicClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.transport.close()

    @property
    def max_in_flight(self) -> int:
        """How many writes apply may have under way at once (`[schematic] max_in_flight`)."""
        return self.transport.max_in_flight

    def list_features(self) -> list[Feature]:
        """Every feature, with the key of its flag, read now (a health probe, `doctor`, the console)."""
        with _readable("GET", "/features"):
            return [_feature(item) for item in self._pages("/features", {})]

    def features(self) -> list[Feature]:
        """Every feature as a plan needs them: held for up to `metadata_max_age`, else read now."""
        return self.metadata.features(self.list_features)

    def list_traits(self) -> list[Trait]:
        """Every company trait definition (`/entity-trait-definitions`), for `trait:` by name."""
        with _readable("GET", "/entity-trait-definitions"):
            items = self._pages("/entity-trait-definitions", {"entity_type": "company"})
            return [Trait(str(i["id"]), str(i["display_name"]), str(i.get("trait_type") or "")) for i in items]

    def list_companies(self, ids: Collection[CompanyId] | None = None) -> list[Company]:
        """Every company (or just `ids`), with keys as a name → value map. Companies a lookup answered
        moments ago are not read again (serve resolves a deal's company, then reconciles it)."""
        if ids is not None and (held := self.metadata.take_companies(ids)) is not None:
            return held
        with _readable("GET", "/companies"):
            if ids is None:
                return [_company(item) for item in self._pages("/companies", {})]
            found: list[Company] = []
            for chunk in _chunks(sorted(ids)):
                found.extend(_company(item) for item in self._pages("/companies", {"ids": chunk}))
            return found

    def lookup_company(self, keys: dict[str, str]) -> Company | None:
        """The company carrying these keys, or None (Schematic answers 404)."""
        try:
            body = self.transport.request("GET", "/companies/lookup", params={f"keys[{k}]": v for k, v in keys.items()})
        except RequestRejected as exc:
            if exc.status == 404:
                return None
            raise
        with _readable("GET", "/companies/lookup"):
            company = _company(body["data"])
        self.metadata.looked_up(company)
        return company

    def plan_entitlements(self, plan_version_id: str) -> PlanEntitlements:
        """What one plan version grants, by feature (one paged call; held for up to `metadata_max_age`)."""
        return self.metadata.plan(plan_version_id, self._read_plan)

    def _read_plan(self, plan_version_id: str) -> PlanEntitlements:
        with _readable("GET", "/plan-entitlements"):
            items = list(self._pages("/plan-entitlements", {"plan_version_id": plan_version_id}))
            plan = next((i["plan"] for i in items if isinstance(i.get("plan"), dict) and i["plan"].get("name")), None)
            values = {FeatureId(str(i["feature_id"])): parse_value(i) for i in items if i.get("feature_id")}
            return PlanEntitlements(plan_version_id, str(plan["name"]) if plan else plan_version_id, values)

    def list_overrides(self, company_ids: Collection[CompanyId] | None = None) -> list[LiveOverride]:
        """Every override (or those of some companies), newest first as Schematic returns them."""
        values: dict[Any, Any] = {}  # equal values, ids and timestamps read once and shared (parse_override)
        with _readable("GET", "/company-overrides"):
            if company_ids is None:
                return [parse_override(item, values) for item in self._pages("/company-overrides", {})]
            found: list[LiveOverride] = []
            for chunk in _chunks(sorted(company_ids)):
                pages = self._pages("/company-overrides", {"company_ids": chunk})
                found.extend(parse_override(i, values) for i in pages)
            return found

    def create_override(
        self, company_id: CompanyId, feature_id: FeatureId, value: OverrideValue, note: str
    ) -> LiveOverride:
        """POST one override (201). Never retried after it may have been sent."""
        body = {"company_id": company_id, "feature_id": feature_id, **value_json(value), "note": note}
        answer = self._write("POST", "/company-overrides", body)
        with _readable("POST", "/company-overrides"):
            return parse_override(answer["data"])

    def update_override(self, override_id: OverrideId, value: OverrideValue, note: str) -> LiveOverride:
        """PUT the full value (value_type is required; null clears a field)."""
        path = f"/company-overrides/{override_id}"
        answer = self._write("PUT", path, {**value_json(value), "note": note})
        with _readable("PUT", path):
            return parse_override(answer["data"])

    def delete_override(self, override_id: OverrideId) -> None:
        """DELETE one override; an override already gone (404) counts as deleted."""
        try:
            self.transport.request("DELETE", f"/company-overrides/{override_id}")
        except RequestRejected as exc:
            if exc.status != 404:
                raise

    def _write(self, method: str, path: str, body: dict[str, Any]) -> Any:
        """A create or update; one Schematic rejects (a feature or plan gone or changed since it was
        read) forgets the metadata held, so that the next plan reads it afresh."""
        try:
            return self.transport.request(method, path, json=body)
        except RequestRejected:
            self.metadata.forget()
            raise

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            # An httpx response is a reference cycle (it and its stream), freed only by the collector. One
            # that a collection finds still in use (while its body is read and parsed) is promoted, and a
            # 500 KB page then waits for a full collection: with none during the call, the next young
            # collection frees it.
            with gc_paused():
                body = self.transport.request("GET", path, params={**params, "limit": PAGE, "offset": offset})
            items = body.get("data") or []
            yield from items
            if len(items) < PAGE:
                return
            offset += len(items)


@contextmanager
def _readable(method: str, path: str) -> Iterator[None]:
    """The one place where an answer crmsync cannot parse (no `data`, an object without its id, a
    timestamp that is not one) becomes a ServiceUnavailable naming the request, not a crash; for a
    create, an OutcomeUnknown: the override was made, and is found again by its token."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        error = OutcomeUnknown if method == "POST" else ServiceUnavailable
        raise error(
            SERVICE, f"unreadable response to {method} {path} ({type(exc).__name__})", setting=URL_SETTING
        ) from exc


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), MAX_IDS):
        yield ids[start : start + MAX_IDS]


def parse_time(raw: Any) -> datetime | None:
    """An RFC 3339 timestamp from Schematic, or None."""
    if not isinstance(raw, str) or not raw:
        return None
    return datetime.fromisoformat(raw.replace("Z", "+00:00"))


VALUE_FIELDS = (
    *("value_type", "value_bool", "value_numeric", "value_trait_id"),
    *("metric_period", "metric_period_month_reset", "expiration_date"),
)


def parse_override(item: dict[str, Any], shared: dict[Any, Any] | None = None) -> LiveOverride:
    """A `CompanyOverrideResponseData` object → LiveOverride. `shared`: what a list parsed so far (values
    by their fields, company and feature ids, timestamps), so that a list of 30,000 overrides holds each
    distinct one once: a company has several overrides, a bulk apply stamps many alike, and all of them
    are immutable."""
    if shared is None:
        value = parse_value(item)
        company, feature = CompanyId(item["company_id"]), FeatureId(item["feature_id"])
        created, updated = parse_time(item.get("created_at")), parse_time(item.get("updated_at"))
    else:
        fields = tuple(item.get(name) for name in VALUE_FIELDS)
        value = shared.get(fields) or shared.setdefault(fields, parse_value(item))
        company = shared.setdefault(item["company_id"], CompanyId(item["company_id"]))
        feature = shared.setdefault(item["feature_id"], FeatureId(item["feature_id"]))
        created, updated = _time(shared, item.get("created_at")), _time(shared, item.get("updated_at"))
    return LiveOverride(
        id=OverrideId(item["id"]),
        company_id=company,
        feature_id=feature,
        value=value,
        notes=tuple(str(n.get("note", "")) for n in item.get("notes") or [] if isinstance(n, dict)),
        created_at=created,
        updated_at=updated,
    )


def _time(shared: dict[Any, Any], raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return parse_time(raw)
    key = ("time", raw)  # apart from ids, which are strings too
    found: datetime | None = shared.get(key)
    return found if found is not None else shared.setdefault(key, parse_time(raw))


def parse_value(item: dict[str, Any]) -> OverrideValue:
    """The value fields of an override or a plan entitlement (the two share their names)."""
    value_type = str(item.get("value_type"))
    period = str(item.get("metric_period"))
    reset = str(item.get("metric_period_month_reset"))
    return OverrideValue(
        value_type=ValueType(value_type) if value_type in ValueType._value2member_map_ else ValueType.UNKNOWN,
        value_bool=item.get("value_bool") if value_type == "boolean" else None,
        value_numeric=item.get("value_numeric") if value_type == "numeric" else None,
        value_trait_id=item.get("value_trait_id") if value_type == "trait" else None,
        metric_period=MetricPeriod(period) if period in MetricPeriod._value2member_map_ else None,
        month_reset=MonthReset(reset) if reset in MonthReset._value2member_map_ else None,
        expiration=parse_time(item.get("expiration_date")),
    )


def _company(item: dict[str, Any]) -> Company:
    keys = item.get("keys") or []
    key_map = {str(k["key"]): str(k["value"]) for k in keys} if isinstance(keys, list) else dict(keys)
    plan = item.get("plan")
    version = plan.get("plan_version_id") if isinstance(plan, dict) else None
    add_ons = item.get("add_ons") if isinstance(item.get("add_ons"), list) else None
    versions = [a.get("plan_version_id") for a in add_ons or [] if isinstance(a, dict)]
    return Company(
        id=CompanyId(item["id"]),
        name=str(item.get("name") or item["id"]),
        keys=key_map,
        plan_version_id=str(version) if version else None,
        plan_name=(str(plan.get("name") or plan.get("id") or "") or None) if isinstance(plan, dict) else None,
        add_on_version_ids=tuple(str(v) for v in versions if v),
    )


def _feature(item: dict[str, Any]) -> Feature:
    flags = item.get("flags") or []
    flag_key = str(flags[0]["key"]) if flags else None
    return Feature(
        id=FeatureId(item["id"]),
        name=str(item.get("name") or item["id"]),
        feature_type=str(item.get("feature_type") or "boolean"),
        flag_key=flag_key,
    )
