"""The Schematic emulator's state and its Starlette app (`make_schematic_app`).

Tests and the runner seed `SchematicState`, inject faults and read back overrides while the
server thread serves it; every access takes `state.lock`. Endpoints live in `schematic_api.py`
(overrides) and `schematic_catalog.py`, object shapes and validation in `schematic_model.py`.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from starlette.applications import Starlette

from crmsync.sandbox import schematic_api as api
from crmsync.sandbox import schematic_catalog as catalog
from crmsync.sandbox import schematic_traits as traits
from crmsync.sandbox.common import (
    Call,
    Clock,
    FaultRule,
    RateLimit,
    RecordedRequest,
    Reply,
    fault_reply,
    iso_z,
    make_app,
    take_rule,
    utc_now,
)
from crmsync.sandbox.data import DEFAULT_ENVIRONMENT, DEFAULT_SCHEMATIC_KEY, SchematicSeed
from crmsync.sandbox.recording import Exchange
from crmsync.sandbox.schematic_limits import MutationLimit
from crmsync.sandbox.schematic_model import (
    FEATURE_TYPES,
    Record,
    empty_override,
    new_id,
    newest,
    note_record,
    override_fields,
)

OVERRIDES_PATH = "/company-overrides"


class SchematicState:
    """What the Schematic emulator serves; mutate it from tests through these methods."""

    def __init__(
        self, api_key: str = DEFAULT_SCHEMATIC_KEY, environment_id: str = DEFAULT_ENVIRONMENT, *, clock: Clock = utc_now
    ) -> None:
        self.api_key = api_key
        self.environment_id = environment_id
        self.clock = clock  # settable: a callable returning an aware UTC datetime
        self.rate_limit_per_second: float | None = None  # exceeded → 429 with bucket and Retry-After
        self.latency_seconds = 0.0  # waited before every answer (a slow network; `bench/writes.py` sets 0.05)
        self.mutation = MutationLimit()  # `limit_writes`: Schematic's mutation bucket (none by default)
        self.companies: dict[str, Record] = {}
        self.features: dict[str, Record] = {}
        self.plans: dict[str, Record] = {}  # by plan id; each has one version (`version_id`) or none
        self.entitlements: dict[str, Record] = {}
        self.traits: dict[str, Record] = {}  # trait definitions by id (schematic_traits.py)
        self.requests: list[RecordedRequest] = []
        self.exchanges: list[Exchange] | None = None  # a list: record the wire (recording.py)
        self.write_count = 0  # POST/PUT/DELETE requests received under /company-overrides
        self.lock = threading.RLock()
        self._overrides: dict[str, Record] = {}  # in creation order, the tie-break of "newest first"
        self._seq: dict[str, int] = {}  # override id → creation number (the tie-break, as an index)
        self._numbers = itertools.count()  # creation numbers: never reused after a delete
        self._by_company: dict[str, dict[str, Record]] = {}  # company id → its overrides in creation order
        self._newest: list[Record] | None = None  # override_records() cached until an override is added/removed
        self._company_keys: dict[tuple[str, str], str] = {}  # (key, value) → company id holding it
        self._faults: list[FaultRule] = []
        self._hangs: list[FaultRule] = []
        self._limit = RateLimit()
        self.listeners: list[Callable[[str, Record], None]] = []  # webhooks (sandbox/schematic_push.py)

    def now(self) -> str:
        """The clock as Schematic renders times."""
        return iso_z(self.clock())

    def load(self, seed: SchematicSeed) -> None:
        """Add a seed's features, plans, companies and overrides."""
        with self.lock:
            self.api_key, self.environment_id = seed.api_key, seed.environment_id
            for f in seed.features:
                self.add_feature(f.name, f.feature_type, f.flag_key, feature_id=f.id)
            for p in seed.plans:
                self.add_plan(
                    p.name, p.version_id, plan_id=p.id, plan_type=p.plan_type, versioned=p.version_id is not None
                )
                for e in p.entitlements:
                    assert p.version_id is not None  # parse_data refuses entitlements of a plan without version
                    self.add_entitlement(
                        p.version_id,
                        e.feature_id,
                        e.value_type,
                        value_bool=e.value_bool,
                        value_numeric=e.value_numeric,
                        metric_period=e.metric_period,
                        metric_period_month_reset=e.metric_period_month_reset,
                    )
            for c in seed.companies:
                self.add_company(
                    c.name,
                    dict(c.keys),
                    company_id=c.id,
                    plan_version_id=c.plan_version_id,
                    plan_id=c.plan_id,
                    add_ons=c.add_ons,
                    traits=dict(c.traits),
                )
            for o in seed.overrides:
                self.add_override(
                    o.company_id,
                    o.feature_id,
                    **{k: v for k, v in vars(o).items() if k not in ("company_id", "feature_id")},
                )

    def add_company(
        self,
        name: str,
        keys: dict[str, str],
        *,
        company_id: str | None = None,
        plan_version_id: str | None = None,
        plan_id: str | None = None,
        add_ons: Sequence[str] = (),
        traits: Mapping[str, Any] | None = None,
    ) -> str:
        """Add a company with its keys (unique across companies, possibly none) on a base plan, given by
        its version or, for a plan without version, by `plan_id` (neither: no plan); `add_ons` are
        version ids of add-on plans; `traits` a name → value object."""
        with self.lock:
            base = self.plan_of_version(plan_version_id) if plan_version_id is not None else None
            if plan_version_id is not None and base is None:
                raise ValueError(f"unknown plan version {plan_version_id!r}; add_plan first")
            if plan_id is not None and plan_id not in self.plans:
                raise ValueError(f"unknown plan {plan_id!r}; add_plan first")
            unknown = [v for v in add_ons if (self.plan_of_version(v) or {}).get("plan_type") != "add_on"]
            if unknown:
                raise ValueError(f"not add-on plan versions: {', '.join(unknown)}")
            clash = sorted(f"{k}={v}" for k, v in keys.items() if self.company_with_key(k, str(v)) is not None)
            if clash:
                raise ValueError(f"company keys already in use: {', '.join(clash)}")
            cid, now = company_id or new_id("comp"), self.now()
            self.companies[cid] = {
                "id": cid,
                "name": name,
                "plan_version_id": plan_version_id,
                "plan_id": base["id"] if base is not None else plan_id,
                "add_ons": list(add_ons),
                "traits": dict(traits or {}),
                "keys": {k: (new_id("ckey"), str(v)) for k, v in keys.items()},
                "created_at": now,
                "updated_at": now,
            }
            self._company_keys.update({(k, str(v)): cid for k, v in keys.items()})
            return cid

    def company_with_key(self, key: str, value: str) -> Record | None:
        """The company holding `key` = `value`, or None (by index: companies are added through
        `add_company` only)."""
        with self.lock:
            return self.companies.get(self._company_keys.get((key, value), ""))

    def add_feature(
        self, name: str, feature_type: str, flag_key: str | None = None, *, feature_id: str | None = None
    ) -> str:
        """Add a feature (boolean, event, trait or license) and its flag when `flag_key` is given."""
        if feature_type not in FEATURE_TYPES:
            raise ValueError(f"feature_type must be one of {FEATURE_TYPES}, not {feature_type!r}")
        with self.lock:
            fid, now = feature_id or new_id("feat"), self.now()
            flag = None if flag_key is None else {"id": new_id("flag"), "key": flag_key}
            self.features[fid] = {
                "id": fid,
                "name": name,
                "feature_type": feature_type,
                "flag": flag,
                "created_at": now,
                "updated_at": now,
            }
            return fid

    def add_plan(
        self,
        name: str,
        version_id: str | None = None,
        *,
        plan_id: str | None = None,
        plan_type: str = "plan",
        versioned: bool = True,
    ) -> str:
        """Add a plan (`plan_type` plan or add_on) with one version; returns the version id (`plvr_…`),
        or the plan id when not `versioned` (a plan without version: companies on it have
        `plan.plan_version_id` null)."""
        if plan_type not in ("plan", "add_on"):
            raise ValueError(f"plan_type must be plan or add_on, not {plan_type!r}")
        with self.lock:
            pid, now = plan_id or new_id("plan"), self.now()
            vid = (version_id or new_id("plvr")) if versioned else None
            self.plans[pid] = {
                "id": pid,
                "name": name,
                "version_id": vid,
                "plan_type": plan_type,
                "created_at": now,
                "updated_at": now,
            }
            return vid if vid is not None else pid

    def plan_of_version(self, version_id: str | None) -> Record | None:
        """The plan whose version is `version_id`, or None."""
        with self.lock:
            return next((p for p in self.plans.values() if version_id and p["version_id"] == version_id), None)

    def add_entitlement(
        self,
        plan_version_id: str,
        feature_id: str,
        value_type: str,
        *,
        value_bool: bool | None = None,
        value_numeric: int | None = None,
        metric_period: str | None = None,
        metric_period_month_reset: str | None = None,
    ) -> str:
        """Entitle a plan version to a feature; returns the `pltl_…` id."""
        with self.lock:
            plan, now = self.plan_of_version(plan_version_id), self.now()
            if plan is None:
                raise ValueError(f"unknown plan version {plan_version_id!r}")
            if feature_id not in self.features:
                raise ValueError(f"unknown feature {feature_id!r}")
            eid = new_id("pltl")
            self.entitlements[eid] = {
                "id": eid,
                "plan_id": plan["id"],
                "rule_id": new_id("rule"),
                "plan_version_id": plan_version_id,
                "feature_id": feature_id,
                "environment_id": self.environment_id,
                "value_type": value_type,
                "value_bool": value_bool,
                "value_numeric": value_numeric,
                "value_trait_id": None,
                "metric_period": metric_period,
                "metric_period_month_reset": metric_period_month_reset,
                "created_at": now,
                "updated_at": now,
            }
            return eid

    def add_override(
        self,
        company_id: str,
        feature_id: str,
        value_type: str,
        *,
        value_bool: bool | None = None,
        value_numeric: int | None = None,
        value_trait_id: str | None = None,
        metric_period: str | None = None,
        metric_period_month_reset: str | None = None,
        expiration_date: str | None = None,
        note: str | None = None,
    ) -> str:
        """Seed an override as if someone made it by hand; returns its `cmov_…` id."""
        fields = override_fields(
            {
                "value_type": value_type,
                "value_bool": value_bool,
                "value_numeric": value_numeric,
                "value_trait_id": value_trait_id,
                "metric_period": metric_period,
                "metric_period_month_reset": metric_period_month_reset,
                "expiration_date": expiration_date,
                "note": note,
            }
        )
        with self.lock:
            if company_id not in self.companies or feature_id not in self.features:
                raise ValueError(f"unknown company {company_id!r} or feature {feature_id!r}")
            return self.create_override(company_id, feature_id, fields)

    def create_override(self, company_id: str, feature_id: str, fields: Mapping[str, Any]) -> str:
        """Store a new override from validated fields (`note` becomes the first of notes[])."""
        with self.lock:
            oid, now = new_id("cmov"), self.now()
            record = empty_override(oid, company_id, feature_id, self.environment_id, now)
            self._apply(record, fields, now)
            self._overrides[oid] = record
            self._seq[oid] = next(self._numbers)
            self._by_company.setdefault(company_id, {})[oid] = record
            self._newest = None
            self._emit("company.override.created", record)
            return oid

    def update_override(self, override_id: str, fields: Mapping[str, Any]) -> Record:
        """Set the fields present (null clears), keep the rest, append a note; returns the record."""
        with self.lock:
            record = self._overrides[override_id]
            now = self.now()
            self._apply(record, fields, now)
            record["updated_at"] = now
            self._emit("company.override.updated", record)
            return record

    def delete_override(self, override_id: str) -> bool:
        """Remove an override; False when there was none."""
        with self.lock:
            record = self._overrides.pop(override_id, None)
            if record is not None:
                self._by_company.get(record["company_id"], {}).pop(override_id, None)
                self._seq.pop(override_id, None)
                self._newest = None
                self._emit("company.override.deleted", record)
            return record is not None

    def _emit(self, action: str, record: Record) -> None:
        for listener in self.listeners:
            listener(action, copy.deepcopy(record))

    @property
    def overrides(self) -> dict[str, Record]:
        """A snapshot of every override record by id (copies: mutating them changes nothing)."""
        with self.lock:
            return copy.deepcopy(self._overrides)

    def override_records(self) -> list[Record]:
        """The live records, newest first (created_at, then creation order); callers hold the lock.
        Sorted once per added or removed override, not per call."""
        if self._newest is None:
            self._newest = newest(self._overrides.values())
        return list(self._newest)

    def override_records_of(self, company_ids: set[str]) -> list[Record]:
        """The live records of these companies, newest first, in the order `override_records` gives;
        callers hold the lock. Costs the companies' overrides, not all of them."""
        records = [r for c in company_ids for r in self._by_company.get(c, {}).values()]
        return sorted(records, key=lambda r: (r["created_at"], self._seq[r["id"]]), reverse=True)

    def override_record(self, override_id: str) -> Record | None:
        """The live record of one override; callers hold the lock."""
        return self._overrides.get(override_id)

    def overrides_for(self, company_id: str, feature_id: str | None = None) -> list[Record]:
        """Copies of a company's overrides (of one feature when given), newest first."""
        with self.lock:
            return [
                copy.deepcopy(r)
                for r in self.override_records_of({company_id})
                if feature_id in (None, r["feature_id"])
            ]

    def fail_next(
        self, method: str, path_prefix: str, status: int, times: int = 1, retry_after: float | None = None
    ) -> None:
        """Answer the next `times` matching requests with `status` and `{"error": ...}` ("*": any method)."""
        with self.lock:
            self._faults.append(FaultRule(method, path_prefix, times, status, retry_after))

    def hang_after_commit(self, method: str, path_prefix: str, seconds: float, times: int = 1) -> None:
        """Perform the next matching requests, then wait `seconds` before answering (a lost response)."""
        with self.lock:
            self._hangs.append(FaultRule(method, path_prefix, times, seconds=seconds))

    def drop_after_commit(self, method: str, path_prefix: str, times: int = 1) -> None:
        """Perform the next matching requests, then drop the connection halfway through the answer."""
        with self.lock:
            self._hangs.append(FaultRule(method, path_prefix, times, drop=True))

    def garble_after_commit(self, method: str, path_prefix: str, times: int = 1) -> None:
        """Perform the next matching requests, then answer with a body that is not JSON."""
        with self.lock:
            self._hangs.append(FaultRule(method, path_prefix, times, garble=True))

    def limit_writes(self, rate: float | None, burst: float | None = None) -> None:
        """Schematic's `mutation` bucket: writes at `rate` per second, `burst` at once (default `rate`,
        as Schematic's 120/s, burst 120), answered 429 past it (schematic_limits.py). None: no limit."""
        with self.lock:
            self.mutation.set(rate, burst)

    def rate_headers(self, call: Call, reply: Reply) -> None:
        """The mutation bucket's X-RateLimit-* headers on a write's answer (when a limit is set)."""
        with self.lock:
            self.mutation.headers(call, reply)

    def guard(self, call: Call, api_key: str | None) -> Reply | None:
        """Count writes, then injected faults, auth, the rate limit: a reply, or None to proceed."""
        with self.lock:
            if call.method in api.WRITE_METHODS and call.path.startswith(OVERRIDES_PATH):
                self.write_count += 1
            rule = take_rule(self._faults, call.method, call.path)
            if rule is not None:
                return fault_reply(
                    rule,
                    lambda status: api.error(status, f"injected failure ({status})"),
                    lambda retry_after: api.rate_limited(call.method, 1.0 if retry_after is None else retry_after),
                )
            if api_key != self.api_key:
                return api.error(401, "Invalid or missing API key (X-Schematic-Api-Key)")
            wait = self._limit.take(self.rate_limit_per_second)
            if wait > 0:
                return api.rate_limited(call.method, wait)
            return self.mutation.check(call)

    def after_commit(self, call: Call) -> FaultRule | None:
        """How to answer a request that was just performed: late (`seconds`), or garbled."""
        with self.lock:
            return take_rule(self._hangs, call.method, call.path)

    def _apply(self, record: Record, fields: Mapping[str, Any], now: str) -> None:
        for name, value in fields.items():
            if name == "note":
                if value is not None:
                    record["notes"].append(note_record(value, now))
            else:
                record[name] = value


def make_schematic_app(state: SchematicState) -> Starlette:
    """The Starlette app serving `state` at Schematic's paths."""
    return make_app(
        state,
        [
            ("GET", "/companies", catalog.list_companies),
            ("GET", "/companies/count", catalog.count_companies),
            ("GET", "/companies/lookup", catalog.lookup_company),
            ("GET", "/companies/{company_id}", catalog.get_company),
            ("GET", "/features", catalog.list_features),
            ("GET", "/features/{feature_id}", catalog.get_feature),
            ("GET", "/flags", catalog.list_flags),
            ("GET", "/plan-entitlements", catalog.list_entitlements),
            ("GET", "/entity-trait-definitions", traits.list_traits),
            ("GET", "/entity-trait-definitions/count", traits.count_traits),
            ("GET", OVERRIDES_PATH, api.list_overrides),
            ("POST", OVERRIDES_PATH, api.create_override),
            ("GET", f"{OVERRIDES_PATH}/count", api.count_overrides),
            ("GET", OVERRIDES_PATH + "/{override_id}", api.get_override),
            ("PUT", OVERRIDES_PATH + "/{override_id}", api.update_override),
            ("DELETE", OVERRIDES_PATH + "/{override_id}", api.delete_override),
        ],
        credential_header="x-schematic-api-key",
        error=api.error,
        after_commit=state.after_commit,
        latency=lambda: state.latency_seconds,
        decorate=state.rate_headers,
    )
