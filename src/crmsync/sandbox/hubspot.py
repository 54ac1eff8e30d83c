"""The HubSpot emulator's state and its Starlette app (`make_hubspot_app`).

Tests and the runner seed and mutate `HubSpotState` while the server thread reads it; every
access takes `state.lock`. The endpoints themselves live in `hubspot_api.py`, the search
semantics in `hubspot_search.py`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.applications import Starlette

from crmsync.sandbox import hubspot_api as api
from crmsync.sandbox import hubspot_meta as meta
from crmsync.sandbox.common import (
    Call,
    Clock,
    FaultRule,
    RateLimit,
    RecordedRequest,
    Reply,
    iso_z,
    make_app,
    parse_utc,
    take_rule,
    utc_now,
)
from crmsync.sandbox.data import DEFAULT_HUBSPOT_TOKEN, HubSpotSeed, Pipeline, Stage
from crmsync.sandbox.hubspot_api import error_reply, fault_reply
from crmsync.sandbox.hubspot_limits import ApiUsage
from crmsync.sandbox.recording import Exchange

SEARCH_PATH = "/crm/v3/objects/deals/search"


@dataclass
class StoredDeal:
    """A deal as the emulator keeps it: every property value a string."""

    id: int
    properties: dict[str, str]
    company_ids: list[str]
    primary_company_id: str | None
    archived: bool
    created: datetime
    updated: datetime
    archived_at: datetime | None = None


class HubSpotState:
    """What the HubSpot emulator serves; mutate it from tests, always through these methods."""

    def __init__(self, access_token: str = DEFAULT_HUBSPOT_TOKEN, *, clock: Clock = utc_now) -> None:
        self.access_token = access_token
        self.clock = clock  # settable: a callable returning an aware UTC datetime
        self.search_rate_per_second: float | None = None  # exceeded → 429 RATE_LIMIT, no Retry-After
        self.association_page_size = api.ASSOCIATION_PAGE_SIZE  # targets per id per association read page
        self.deals: dict[str, StoredDeal] = {}
        self.companies: dict[str, str] = {}
        self.pipelines: dict[str, Pipeline] = {}
        self.property_types: dict[str, str] = {}  # custom deal property → HubSpot type (hubspot_meta.py)
        self.property_labels: dict[str, str] = {}  # custom deal property → its label, when defined with one
        self.property_options: dict[str, list[tuple[str, str]]] = {}  # enumeration → (value, label) options
        self.requests: list[RecordedRequest] = []
        self.exchanges: list[Exchange] | None = None  # a list: record the wire (recording.py)
        self.lock = threading.RLock()
        self.search_cache: dict[tuple[object, ...], list[int]] = {}
        self.indexes: dict[str, Any] = {}  # lookups built from `deals` (hubspot_api.py), dropped on change
        self._faults: list[FaultRule] = []
        self._search_limit = RateLimit()
        self.usage = ApiUsage()  # the portal's API calls: the X-HubSpot-RateLimit-* headers (hubspot_limits.py)
        self._next_id = 1001
        self.listeners: list[Callable[[str, dict[str, object]], None]] = []  # webhooks (sandbox/hubspot_push.py)

    def load(self, seed: HubSpotSeed) -> None:
        """Add a seed's token, companies, pipelines and deals."""
        with self.lock:
            self.access_token = seed.access_token
            for company in seed.companies:
                self.add_company(company.id, company.name)
            for pipeline in seed.pipelines:
                self.add_pipeline(pipeline.id, pipeline.label, pipeline.stages)
            for prop in seed.properties:
                self.add_property(prop.name, prop.type, prop.label, prop.options)
            for deal in seed.deals:
                self.add_deal(
                    deal.id,
                    properties=dict(deal.properties),
                    company_ids=deal.company_ids,
                    primary_company_id=deal.primary_company_id,
                    archived=deal.archived,
                )
            self._fix_property_types()

    def _fix_property_types(self) -> None:
        """A portal's custom properties have a type from their creation on: the seed's values decide it
        once, so a value written later (a test's absurd date) does not change the property's type."""
        from crmsync.sandbox.hubspot_meta import deal_properties

        for prop in deal_properties(self):
            self.property_types.setdefault(prop["name"], prop["type"])

    def add_company(self, company_id: str, name: str) -> None:
        """Add (or rename) a HubSpot company."""
        with self.lock:
            self.companies[company_id] = name
            self._changed()

    def add_pipeline(self, pipeline_id: str, label: str, stages: Sequence[Stage]) -> None:
        """Add (or replace) a deal pipeline; its stages decide hs_is_closed / hs_is_closed_won."""
        with self.lock:
            self.pipelines[pipeline_id] = Pipeline(pipeline_id, label, tuple(stages))
            for deal in self.deals.values():
                self._derive(deal.properties)
            self._changed()

    def add_property(self, name: str, ptype: str, label: str = "", options: Sequence[tuple[str, str]] = ()) -> None:
        """Define a custom deal property (an enumeration's options as (value, label): they may differ)."""
        with self.lock:
            self.property_types[name] = ptype
            if label:
                self.property_labels[name] = label
            self.property_options[name] = list(options)
            self._changed()

    def add_deal(
        self,
        deal_id: str | None = None,
        *,
        properties: dict[str, str],
        company_ids: Sequence[str] = (),
        primary_company_id: str | None = None,
        archived: bool = False,
    ) -> str:
        """Add a deal and return its id (numeric string; the next free one when None).

        Sets hs_object_id, and createdate / hs_lastmodifieddate unless given, from `clock`."""
        with self.lock:
            number = self._next_id if deal_id is None else int(deal_id)
            key = str(number)
            if key in self.deals:
                raise ValueError(f"deal {key} already exists")
            now = self.clock()
            props = _checked(properties)
            props["hs_object_id"] = key
            props.setdefault("createdate", iso_z(now, millis=True))
            props.setdefault("hs_lastmodifieddate", props["createdate"])
            self._derive(props)
            primary = primary_company_id if primary_company_id is not None else next(iter(company_ids), None)
            created, updated = _parse(props["createdate"], now), _parse(props["hs_lastmodifieddate"], now)
            self.deals[key] = StoredDeal(
                number, props, list(company_ids), primary, archived, created, updated, now if archived else None
            )
            self._next_id = max(self._next_id, number + 1)
            self._changed()
            self._emit("deal.creation", objectId=number)
            return key

    def update_deal(self, deal_id: str, **properties: str | None) -> None:
        """Set (None: clear) properties and bump hs_lastmodifieddate / updatedAt to `clock()`."""
        with self.lock:
            deal = self.deals[str(deal_id)]
            now = self.clock()
            for name, value in properties.items():
                if value is None:
                    deal.properties.pop(name, None)
                else:
                    deal.properties.update(_checked({name: value}))
            deal.properties["hs_lastmodifieddate"] = iso_z(now, millis=True)
            deal.updated = now
            self._derive(deal.properties)
            self._changed()
            for name, value in properties.items():
                self._emit("deal.propertyChange", objectId=deal.id, propertyName=name, propertyValue=value or "")

    def set_associations(self, deal_id: str, company_ids: Sequence[str], primary_company_id: str | None = None) -> None:
        """Replace a deal's company associations (does not bump hs_lastmodifieddate, as HubSpot)."""
        with self.lock:
            deal = self.deals[str(deal_id)]
            before = set(deal.company_ids)
            deal.company_ids = list(company_ids)
            deal.primary_company_id = primary_company_id or next(iter(company_ids), None)
            self._changed()
            for company in sorted(before ^ set(company_ids)):
                self._emit(
                    "deal.associationChange",
                    objectId=deal.id,
                    associationType="DEAL_TO_COMPANY",
                    fromObjectId=deal.id,
                    toObjectId=int(company),
                    associationRemoved=company in before,
                    isPrimaryAssociation=company == deal.primary_company_id,
                )

    def archive_deal(self, deal_id: str) -> None:
        """Move a deal to the recycle bin: search stops returning it; hs_lastmodifieddate stays."""
        with self.lock:
            deal = self.deals[str(deal_id)]
            deal.archived, deal.archived_at = True, self.clock()
            self._changed()
            self._emit("deal.deletion", objectId=deal.id)

    def fail_next(
        self, status: int, times: int = 1, path_prefix: str = "", *, retry_after: float | None = None
    ) -> None:
        """Answer the next `times` requests under `path_prefix` with a HubSpot-shaped `status` error."""
        with self.lock:
            self._faults.append(FaultRule("*", path_prefix, times, status, retry_after))

    def set_api_usage(
        self, *, daily_limit: int | None = None, used_today: int | None = None, interval_limit: int | None = None
    ) -> None:
        """Set the portal's daily (and 10 s) call limits and how many calls today already spent."""
        with self.lock:
            usage = self.usage
            usage.daily_limit = usage.daily_limit if daily_limit is None else daily_limit
            usage.interval_limit = usage.interval_limit if interval_limit is None else interval_limit
            if used_today is not None:
                usage.day, usage.used_today = self.clock().date(), used_today

    def publish_limits(self, searches_per_second: float = 5.0, calls_per_10s: int = 100) -> None:
        """Enforce HubSpot's published limits (reference/hubspot.md §3, §8): search requests per second
        (429 `SECONDLY`), and calls per rolling 10 s for everything but search (429 `TEN_SECONDLY_ROLLING`),
        neither with a Retry-After. Defaults: 5 searches/s, the Free/Starter 100 calls per 10 s."""
        with self.lock:
            self.search_rate_per_second = searches_per_second
            self.usage.interval_limit, self.usage.enforce_interval = calls_per_10s, True

    def metered(self, reply: Reply) -> Reply:
        """`reply` with the rate-limit headers HubSpot sends on every authenticated answer."""
        reply.headers.update(self.usage.headers())
        return reply

    def guard(self, call: Call, authorization: str | None) -> Reply | None:
        """Injected faults, then auth, then the search rate limit: a reply, or None to proceed."""
        with self.lock:
            rule = take_rule(self._faults, call.method, call.path)
            if rule is not None:
                return fault_reply(rule)
            if authorization is None or not authorization.startswith("Bearer "):
                return error_reply(
                    401,
                    "Authentication credentials not found. This API supports OAuth 2.0 "
                    "authentication and you can find more details at "
                    "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                )
            if authorization.removeprefix("Bearer ") != self.access_token:
                return error_reply(401, "The access token provided is invalid or has been revoked.")
            today = self.clock().date()
            if self.usage.exhausted(today):
                return self.metered(api.rate_limit_reply("DAILY", "You have reached your daily limit."))
            if self.usage.interval_full(exempt=call.path == SEARCH_PATH):
                message = "You have reached your ten_secondly_rolling limit."
                return self.metered(api.rate_limit_reply("TEN_SECONDLY_ROLLING", message))
            self.usage.spend(today)
            if call.path == SEARCH_PATH and self._search_limit.take(self.search_rate_per_second) > 0:
                return self.metered(api.rate_limit_reply("SECONDLY", "You have reached your secondly limit."))
            return None

    def _emit(self, kind: str, **fields: object) -> None:
        for listener in self.listeners:
            listener(kind, fields)

    def _changed(self) -> None:
        self.search_cache.clear()  # results are cached per query between changes
        self.indexes.clear()

    def _derive(self, props: dict[str, str]) -> None:
        """HubSpot's calculated hs_is_closed / hs_is_closed_won, from the pipeline's stage."""
        pipeline = self.pipelines.get(props.get("pipeline", "default"))
        stages = pipeline.stages if pipeline else ()
        stage = next((s for s in stages if s.id == props.get("dealstage")), None)
        if stage is not None:
            props["hs_is_closed"] = "true" if stage.is_closed else "false"
            props["hs_is_closed_won"] = "true" if stage.is_closed and stage.probability >= 1.0 else "false"


def _checked(properties: dict[str, str]) -> dict[str, str]:
    bad = {k: v for k, v in properties.items() if not isinstance(v, str)}
    if bad:
        raise TypeError(f"HubSpot property values are strings; got {bad!r}")
    return dict(properties)


def _parse(text: str, default: datetime) -> datetime:
    try:
        return parse_utc(text)
    except ValueError:
        return default


def make_hubspot_app(state: HubSpotState) -> Starlette:
    """The Starlette app serving `state` at HubSpot's paths; every answer past the guard is metered."""
    return make_app(
        state,
        [
            (method, path, _metered(handler))
            for method, path, handler in [
                ("POST", SEARCH_PATH, api.search_deals),
                ("POST", "/crm/v3/objects/deals/batch/read", api.batch_read_deals),
                ("GET", "/crm/v3/objects/deals", api.list_deals),
                ("GET", "/crm/v3/objects/deals/{deal_id}", api.get_deal),
                (
                    "POST",
                    "/crm/v4/associations/deals/companies/batch/read",
                    api.read_associations(api.DEAL_TO_COMPANIES),
                ),
                ("GET", "/crm/v4/associations/deals/companies/labels", api.association_labels),
                (
                    "POST",
                    "/crm/v4/associations/companies/deals/batch/read",
                    api.read_associations(api.COMPANY_TO_DEALS),
                ),
                ("GET", "/crm/v3/pipelines/deals", api.list_pipelines),
                ("GET", "/crm/v3/properties/deals", meta.list_properties),
                ("GET", "/crm/v3/properties/deals/{property_name}", meta.get_property),
            ]
        ],
        credential_header="authorization",
        error=error_reply,
        bad_json="Invalid input JSON: {}",
    )


def _metered(handler: Callable[[HubSpotState, Call], Reply]) -> Callable[[HubSpotState, Call], Reply]:
    """`handler`, its answer carrying the portal's rate-limit headers (the call was counted by the guard)."""
    return lambda state, call: state.metered(handler(state, call))
