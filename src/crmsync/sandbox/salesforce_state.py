"""The Salesforce emulator's data: accounts, record types, opportunities, credentials, sessions.

`SalesforceState` is thread-safe (the server thread reads while tests write) and is what
tests and the sandbox runner change; `salesforce.py` serves it. Seed format (all keys optional):

    {"credentials": {"username": "…", "password": "…", "security_token": "…", "consumer_key": "…"},
     "request_limit": null,
     "custom_fields": {"Seats__c": "double", "SSO_Addon__c": "boolean", "Contract_End_Date__c": "date"},
     "picklists": {"Support_Tier__c": [{"value": "T1", "label": "Standard"}]},  # custom picklist fields
     "record_types": [{"Id": "012…", "DeveloperName": "New_Business", "Name": "New Business"}],
     "accounts": [{"Id": "001…", "Name": "Acme"}],
     "opportunities": [{"Name": "Acme 2026", "StageName": "Closed Won", "IsWon": true, "AccountId": "001…",
                        "CloseDate": "2026-01-31", "SystemModstamp": "2026-02-01T10:00:00Z", "Seats__c": 50}]}

An org has Opportunity record types only when the seed (or `add_record_type`) defines one: until
then Opportunity has no `RecordTypeId` field and no `RecordType` relationship, as in Salesforce,
so a query naming them fails with INVALID_FIELD and describe lists only the Master record type.
Custom field types are double, currency, boolean, date, datetime, string; undeclared `__c` fields
take the type of their first value (a "YYYY-MM-DD" text is a date). Opportunity Ids are made up
(18 characters, prefix 006) unless given; dates and datetimes may be ISO strings.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crmsync.sandbox.common import utc_now
from crmsync.sandbox.salesforce_schema import RELATIONSHIPS, STANDARD_FIELDS, coerce, infer_type, salesforce_id
from crmsync.sandbox.soql import parse
from crmsync.sandbox.soql_eval import EntitySchema, FieldType, Row, run_query

SEED_KEYS = ("credentials", "request_limit", "custom_fields", "picklists", "record_types", "accounts", "opportunities")


class SeedError(ValueError):
    """A Salesforce seed the emulator cannot hold; the message starts with where in the seed."""


@contextmanager
def _at(where: str) -> Iterator[None]:
    """Turn what seeding one part of a seed raises into a `SeedError` located at `where`."""
    try:
        yield
    except KeyError as exc:
        raise SeedError(f"{where}: missing {exc}") from exc
    except (AttributeError, TypeError, ValueError) as exc:
        raise SeedError(f"{where}: {exc}") from exc


@dataclass(frozen=True)
class LoggedRequest:
    """One request the emulator answered, for assertions (no credentials recorded)."""

    method: str
    path: str
    soql: str | None
    query_options: str | None  # the Sforce-Query-Options header, if sent
    status: int


class SalesforceState:
    """An org's data and behaviour switches; every method takes the lock."""

    def __init__(
        self,
        *,
        username: str = "integration@crmsync.sandbox",
        password: str = "sandbox-password",
        security_token: str = "sandboxtoken",
        consumer_key: str = "crmsync-sandbox-consumer-key",
        jwt_public_key: bytes | None = None,
        request_limit: int | None = None,
        api_allocation: int = 100_000,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.username, self.password, self.security_token = username, password, security_token
        self.consumer_key = consumer_key
        self.jwt_public_key = jwt_public_key  # PEM; None: the JWT flow is refused
        self.request_limit = request_limit  # API requests allowed before REQUEST_LIMIT_EXCEEDED
        self.api_allocation = api_allocation  # the M shown in `Sforce-Limit-Info: api-usage=N/M`
        self.clock: Callable[[], datetime] = clock or utc_now
        self.org_id = "00D000000000001AAA"
        self._lock = threading.RLock()
        self._rows: dict[str, dict[str, dict[str, Any]]] = {"Opportunity": {}, "Account": {}, "RecordType": {}}
        self._custom: dict[str, dict[str, FieldType]] = {"Opportunity": {}, "Account": {}, "RecordType": {}}
        self.picklists: dict[str, list[tuple[str, str]]] = {}  # Opportunity picklist field → (value, label)
        self._counter = 0
        self._tokens: set[str] = set()
        self._failures: list[tuple[int, str]] = []  # (status, path part)
        self._log: list[LoggedRequest] = []
        self.api_used = 0
        self.listeners: list[Callable[[dict[str, Any]], None]] = []  # Outbound Messages (salesforce_push.py)

    @classmethod
    def from_seed(cls, seed: Mapping[str, Any], **options: Any) -> SalesforceState:
        """A state holding the seed's records (format in the module docstring); raises `SeedError`
        naming the part of the seed it cannot hold (e.g. `opportunities[2]: …`)."""
        unknown = sorted(set(seed) - set(SEED_KEYS))
        if unknown:
            raise SeedError(f"{unknown[0]}: unknown key (expected {', '.join(SEED_KEYS)})")
        limit = seed.get("request_limit")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise SeedError(f"request_limit: expected an integer or null, got {limit!r}")
        with _at("credentials"):
            state = cls(**{**dict(seed.get("credentials") or {}), "request_limit": limit, **options})
        with _at("custom_fields"):
            custom = dict(seed.get("custom_fields") or {})
        for name, ftype in custom.items():
            with _at(f"custom_fields.{name}"):
                state.declare_field("Opportunity", name, FieldType(ftype))
        for name, values in dict(seed.get("picklists") or {}).items():
            with _at(f"picklists.{name}"):
                state.declare_picklist(name, [(str(v["value"]), str(v.get("label", v["value"]))) for v in values])
        for i, rt in enumerate(seed.get("record_types") or ()):
            with _at(f"record_types[{i}]"):
                state.add_record_type(rt["DeveloperName"], name=rt.get("Name"), record_type_id=rt.get("Id"))
        for i, account in enumerate(seed.get("accounts") or ()):
            with _at(f"accounts[{i}]"):
                state.add_account(
                    account["Id"],
                    account.get("Name", account["Id"]),
                    **{k: v for k, v in account.items() if k not in ("Id", "Name")},
                )
        for i, opportunity in enumerate(seed.get("opportunities") or ()):
            with _at(f"opportunities[{i}]"):
                state.add_opportunities([opportunity])
        return state

    # --- data -----------------------------------------------------------------------------------
    def declare_field(self, entity: str, name: str, ftype: FieldType) -> None:
        """Add a custom field (`…__c`) to an entity's schema."""
        if not name.endswith("__c"):
            raise ValueError(f"custom field names end in __c: {name}")
        with self._lock:
            self._custom[entity][name] = ftype

    def declare_picklist(self, name: str, values: list[tuple[str, str]]) -> None:
        """Add a custom Opportunity picklist field with its values (value, label: they may differ)."""
        self.declare_field("Opportunity", name, FieldType.PICKLIST)
        with self._lock:
            self.picklists[name] = list(values)

    def _schema_fields(self, entity: str) -> dict[str, FieldType]:
        fields = {**STANDARD_FIELDS[entity], **self._custom[entity]}
        if entity == "Opportunity" and not self._rows["RecordType"]:
            fields.pop("RecordTypeId")  # an org without Opportunity record types has no such field
        return fields

    @property
    def has_record_types(self) -> bool:
        """Whether the org defines Opportunity record types (and so RecordTypeId and RecordType)."""
        with self._lock:
            return bool(self._rows["RecordType"])

    def describe(self, entity: str) -> tuple[dict[str, FieldType], list[dict[str, Any]], list[str]] | None:
        """An entity's fields, its record types and the StageName values in use (for describe)."""
        with self._lock:
            schema = self.schema(entity)
            if schema is None:
                return None
            types = [dict(rt) for rt in self._rows["RecordType"].values()] if schema.name == "Opportunity" else []
            stages = sorted({str(r["StageName"]) for r in self._rows["Opportunity"].values() if r.get("StageName")})
            return dict(schema.fields), types, stages

    def _store(self, entity: str, row: dict[str, Any], fields: Mapping[str, Any]) -> None:
        known = self._schema_fields(entity)
        for name, value in fields.items():
            ftype = known.get(name)
            if ftype is None:
                if not name.endswith("__c"):
                    raise ValueError(f"{entity} has no field {name}")
                ftype = self._custom[entity].setdefault(name, infer_type(value))
                known[name] = ftype
            row[name] = coerce(name, ftype, value)

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return salesforce_id(prefix, self._counter)

    def add_account(self, account_id: str | None = None, name: str = "", **fields: Any) -> str:
        """Add (or replace) an Account; returns its Id (made up with prefix 001 when None)."""
        with self._lock:
            account_id = account_id or self._next_id("001")
            row: dict[str, Any] = {"Id": account_id, "Name": name or account_id, "IsDeleted": False}
            self._store("Account", row, {"SystemModstamp": self.clock(), **fields})
            self._rows["Account"][account_id] = row
            return account_id

    def add_record_type(
        self, developer_name: str, *, name: str | None = None, record_type_id: str | None = None
    ) -> str:
        """Add an Opportunity record type; returns its Id (prefix 012)."""
        with self._lock:
            rt_id = record_type_id or self._next_id("012")
            self._rows["RecordType"][rt_id] = {
                "Id": rt_id,
                "DeveloperName": developer_name,
                "Name": name or developer_name.replace("_", " "),
                "SobjectType": "Opportunity",
                "IsActive": True,
            }
            return rt_id

    def add_opportunity(self, **fields: Any) -> str:
        """Add an Opportunity (standard fields and custom `__c` fields); returns its Id."""
        return self.add_opportunities([fields])[0]

    def add_opportunities(self, rows: Iterable[Mapping[str, Any]]) -> list[str]:
        """Add many Opportunities under one lock (fast seeding); returns their Ids in order."""
        ids: list[str] = []
        with self._lock:
            now = self.clock()
            for fields in rows:
                opp_id = str(fields.get("Id") or self._next_id("006"))
                won = bool(fields.get("IsWon", False))
                row: dict[str, Any] = {
                    "Id": opp_id,
                    "Name": f"Opportunity {opp_id}",
                    "StageName": "Closed Won" if won else "Prospecting",
                    "IsWon": won,
                    "IsClosed": won,
                    "IsDeleted": False,
                    "CloseDate": now.date(),
                    "AccountId": None,
                    "RecordTypeId": None,
                    "Amount": None,
                }
                stamps = {"CreatedDate": now, "LastModifiedDate": now, "SystemModstamp": now}
                self._store("Opportunity", row, {**stamps, **{k: v for k, v in fields.items() if k != "Id"}})
                self._rows["Opportunity"][opp_id] = row
                ids.append(opp_id)
                self._emit(row)
        return ids

    def update_opportunity(self, opportunity_id: str, **fields: Any) -> None:
        """Change fields; SystemModstamp and LastModifiedDate move to the clock unless given."""
        with self._lock:
            row = self._rows["Opportunity"][opportunity_id]
            now = self.clock()
            self._store("Opportunity", row, {"SystemModstamp": now, "LastModifiedDate": now, **fields})
            self._emit(row)

    def _emit(self, row: Mapping[str, Any]) -> None:
        for listener in self.listeners:
            listener(dict(row))

    def delete_opportunity(self, opportunity_id: str) -> None:
        """Move an Opportunity to the recycle bin: IsDeleted=true, seen only through queryAll."""
        self.update_opportunity(opportunity_id, IsDeleted=True)

    def opportunity(self, opportunity_id: str) -> dict[str, Any]:
        """A copy of one Opportunity's stored fields."""
        with self._lock:
            return dict(self._rows["Opportunity"][opportunity_id])

    # --- the Dataset protocol of soql_eval (called with the lock held) ---------------------------
    def schema(self, entity: str) -> EntitySchema | None:
        canonical = next((e for e in self._rows if e.lower() == entity.lower()), None)
        if canonical is None:
            return None
        rels = dict(RELATIONSHIPS) if canonical == "Opportunity" else {}
        if not self._rows["RecordType"]:
            rels.pop("RecordType", None)
        return EntitySchema(canonical, self._schema_fields(canonical), rels)

    def rows(self, entity: str) -> Iterator[Row]:
        return iter(self._rows[entity].values())

    def get(self, entity: str, record_id: str) -> Row | None:
        return self._rows[entity].get(record_id)

    def run_soql(self, soql: str, *, include_deleted: bool, version: str) -> list[dict[str, Any]]:
        """Parse and run a query against a consistent snapshot; raises `SoqlError`."""
        query = parse(soql)
        with self._lock:
            return run_query(query, self, include_deleted=include_deleted, version=version)

    # --- sessions, limits, failures, log ---------------------------------------------------------
    def issue_token(self) -> str:
        """A new valid session id (access token)."""
        with self._lock:
            token = f"{self.org_id[:15]}!{secrets.token_urlsafe(24)}"
            self._tokens.add(token)
            return token

    def token_valid(self, token: str) -> bool:
        """Whether a session id was issued and has not expired."""
        with self._lock:
            return token in self._tokens

    def expire_sessions(self) -> None:
        """Invalidate every issued session id: the next API call answers 401 INVALID_SESSION_ID."""
        with self._lock:
            self._tokens.clear()

    def fail_next(self, status: int, times: int = 1, *, path_contains: str = "") -> None:
        """Answer the next `times` API requests (whose path contains `path_contains`, e.g. `/query`)
        with `status` (401, 403, 500, 503 …)."""
        with self._lock:
            self._failures.extend([(status, path_contains)] * times)

    def take_failure(self, path: str = "") -> int | None:
        """The injected status for a request to `path`, if any."""
        with self._lock:
            for i, (status, part) in enumerate(self._failures):
                if part in path:
                    del self._failures[i]
                    return status
            return None

    def count_request(self) -> bool:
        """Count one API request; False when the request limit is already used up."""
        with self._lock:
            if self.request_limit is not None and self.api_used >= self.request_limit:
                return False
            self.api_used += 1
            return True

    def usage_header(self) -> str:
        """The `Sforce-Limit-Info` value."""
        with self._lock:
            total = self.request_limit if self.request_limit is not None else self.api_allocation
            return f"api-usage={min(self.api_used, total)}/{total}"

    def record(self, entry: LoggedRequest) -> None:
        """Append to the request log."""
        with self._lock:
            self._log.append(entry)

    @property
    def requests(self) -> list[LoggedRequest]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._log)
