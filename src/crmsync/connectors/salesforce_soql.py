"""SOQL for closed-won Opportunities, the incremental cursor, and Opportunity records → Deals.

Every value from a mapping file reaches SOQL through simple-salesforce's `format_soql`, which
quotes and escapes it; field names, which cannot be quoted, must match a strict pattern. The
connector (`salesforce.py`) sends these queries and converts the records with `to_deal`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from simple_salesforce.format import format_soql

from crmsync.domain import Deal, DealId, Source
from crmsync.errors import RequestRejected
from crmsync.mapping.rules import DealFilter

BASE_FIELDS = (
    "Id",
    "Name",
    "StageName",
    "IsWon",
    "IsDeleted",
    "AccountId",
    "CloseDate",
    "SystemModstamp",
)
# Selected only when a mapping file names `record_types:`: an org without Opportunity record types
# has no RecordType relationship, and Salesforce refuses any query naming it (INVALID_FIELD).
RECORD_TYPE = "RecordType.DeveloperName"
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*")
_DATETIME_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})")


@dataclass(frozen=True, order=True)
class SalesforceCursor:
    """Where an incremental read stopped: the last (SystemModstamp, Id) read, in that order."""

    modstamp: datetime
    opportunity_id: str

    def to_text(self) -> str:
        """A stable text form for the cursor store: `2026-01-31T10:00:00.123Z/006…`."""
        return f"{soql_datetime(self.modstamp)}/{self.opportunity_id}"

    @classmethod
    def from_text(cls, text: str) -> SalesforceCursor:
        """The inverse of `to_text`."""
        stamp, _, opp_id = text.partition("/")
        return cls(parse_datetime(stamp), opp_id)


def soql_datetime(value: datetime) -> str:
    """A SOQL datetime literal with milliseconds, in UTC (format_soql would drop the milliseconds)."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_datetime(text: str) -> datetime:
    """A Salesforce datetime (`2026-01-31T10:00:00.000+0000`, `…Z`) as an aware UTC datetime."""
    return datetime.fromisoformat(text).astimezone(UTC)


def check_field_names(properties: Iterable[str]) -> None:
    """Refuse property names that are not plain (dotted) Salesforce field names."""
    for prop in properties:
        if not _FIELD_NAME.fullmatch(prop):
            raise RequestRejected("Salesforce", f"'{prop}' is not a Salesforce field name", status=None)


def uses_record_types(filters: Iterable[DealFilter]) -> bool:
    """Whether any filter narrows by record type (only then is RecordType queried)."""
    return any(f.record_types for f in filters)


def select_fields(properties: Iterable[str], *, record_types: bool = False) -> tuple[str, ...]:
    """The base fields (and the record type, when asked) plus the requested properties, each once
    (field names are case-insensitive)."""
    chosen: dict[str, str] = {}
    for name in (*BASE_FIELDS, *((RECORD_TYPE,) if record_types else ()), *properties):
        chosen.setdefault(name.lower(), name)
    return tuple(chosen.values())


def _filter_clause(flt: DealFilter) -> str | None:
    parts: list[str] = []
    if flt.stages:
        parts.append(format_soql("StageName IN {}", list(flt.stages)))
    if flt.record_types:
        parts.append(format_soql("RecordType.DeveloperName IN {}", list(flt.record_types)))
    return " AND ".join(parts) or None


def won_condition(filters: Iterable[DealFilter]) -> str:
    """`IsWon = true`, narrowed by the union of the filters' stages and record types."""
    clauses = [_filter_clause(f) for f in filters]
    if not clauses or any(c is None for c in clauses):
        return "IsWon = true"  # a filter without stages or record types admits every won deal
    return "IsWon = true AND (" + " OR ".join(f"({c})" for c in dict.fromkeys(clauses)) + ")"


def _select(properties: Iterable[str], record_types: bool) -> str:
    return f"SELECT {', '.join(select_fields(properties, record_types=record_types))} FROM Opportunity"


def full_query(filters: Iterable[DealFilter], properties: Iterable[str]) -> str:
    """Every closed-won Opportunity the filters admit."""
    flts = tuple(filters)
    return f"{_select(properties, uses_record_types(flts))} WHERE {won_condition(flts)}"


def companies_query(filters: Iterable[DealFilter], properties: Iterable[str], account_ids: Collection[str]) -> str:
    """The closed-won Opportunities of some Accounts."""
    return full_query(filters, properties) + format_soql(" AND AccountId IN {}", sorted(account_ids))


def accounts_query(opportunity_ids: Collection[str]) -> str:
    """The AccountId of some Opportunities, won or not (used with queryAll, deleted ones too)."""
    return format_soql("SELECT Id, AccountId FROM Opportunity WHERE Id IN {}", sorted(opportunity_ids))


def changed_query(properties: Iterable[str], cursor: SalesforceCursor | None, *, record_types: bool = False) -> str:
    """Every Opportunity changed after the cursor, in (SystemModstamp, Id) order, won or not
    (with its record type when `record_types`, for `matches`)."""
    where = ""
    if cursor is not None:
        where = format_soql(
            " WHERE (SystemModstamp > {ts:literal}) OR (SystemModstamp = {ts:literal} AND Id > {opp_id})",
            ts=soql_datetime(cursor.modstamp),
            opp_id=cursor.opportunity_id,
        )
    return f"{_select(properties, record_types)}{where} ORDER BY SystemModstamp ASC, Id ASC"


def lookup(record: Mapping[str, Any], path: str) -> Any:
    """A (dotted) field of a record, matching names case-insensitively; None when absent."""
    current: Any = record
    for step in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = next((v for k, v in current.items() if k.lower() == step.lower()), None)
    return current


def render(value: Any) -> str | None:
    """A field value as the text Deal.properties hold (no trailing .0; ISO dates and datetimes)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | int | float):
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        if not number.is_finite() or abs(number.adjusted()) > 100:  # kept as written: translation reports it
            return str(number)
        if number == number.to_integral_value():
            return str(int(number))
        return format(number.normalize(), "f")
    if isinstance(value, str) and _DATETIME_TEXT.fullmatch(value):
        try:
            return parse_datetime(value).isoformat()
        except (ValueError, OverflowError):  # text that only looks like a datetime: translation reports it
            return value
    return str(value)


def matches(record: Mapping[str, Any], filters: Iterable[DealFilter]) -> bool:
    """Whether a record is a live closed-won deal the filters admit (as `won_condition` says)."""
    if record.get("IsDeleted") or record.get("IsWon") is not True:
        return False
    stage = str(record.get("StageName") or "").casefold()
    rtype = str(lookup(record, "RecordType.DeveloperName") or "").casefold()
    flts = list(filters)
    return not flts or any(
        (not f.stages or stage in {s.casefold() for s in f.stages})
        and (not f.record_types or rtype in {r.casefold() for r in f.record_types})
        for f in flts
    )


def to_deal(record: Mapping[str, Any], properties: Iterable[str]) -> Deal:
    """An Opportunity record as a Deal: AccountId is the company, the record type (when read) the pipeline."""
    close = record.get("CloseDate")
    stamp = record.get("SystemModstamp")
    return Deal(
        source=Source.SALESFORCE,
        id=DealId(str(record["Id"])),
        company_ref=record.get("AccountId"),
        stage=str(record.get("StageName") or ""),
        pipeline=lookup(record, "RecordType.DeveloperName"),
        close_date=datetime.combine(date.fromisoformat(close), datetime.min.time(), UTC) if close else None,
        modified_at=parse_datetime(stamp) if stamp else None,
        properties={prop: render(lookup(record, prop)) for prop in properties},
        name=record.get("Name"),
    )


def cursor_of(record: Mapping[str, Any]) -> SalesforceCursor:
    """The cursor position of one record."""
    return SalesforceCursor(parse_datetime(str(record["SystemModstamp"])), str(record["Id"]))
