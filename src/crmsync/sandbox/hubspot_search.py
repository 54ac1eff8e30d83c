"""HubSpot CRM search semantics for the emulator: parse a request, filter, sort.

Pure functions over property dicts, called by `hubspot_api.py`. Limits follow HubSpot
(5 groups, 10 filters per group, 25 in all, `limit` ≤ 200, 10,000 results per query);
numbers compare as numbers and date properties as epoch milliseconds; `IN` / `NOT_IN` compare
the lowercased stored value with the values as sent; `after` cursors are opaque strings.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import quote, unquote

from crmsync.sandbox.common import parse_utc

DATE_PROPERTIES = frozenset({"closedate", "createdate", "hs_lastmodifieddate"})
VALUE_OPERATORS = frozenset({"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"})
OPERATORS = VALUE_OPERATORS | {"BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY"}
MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 10, 25
DEFAULT_LIMIT, MAX_LIMIT, MAX_RESULTS = 10, 200, 10_000

_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_INTEGER = re.compile(r"-?\d+")


class SearchError(ValueError):
    """The search request is invalid; HubSpot answers 400 VALIDATION_ERROR."""


def encode_cursor(offset: int) -> str:
    """An opaque `paging.next.after`, as HubSpot's: URL-quoted base64 (525 → `NTI1Cg%3D%3D`, the
    spec's own example), so that a client doing arithmetic on it fails here, not in production."""
    return quote(base64.b64encode(f"{offset}\n".encode()).decode(), safe="")


def decode_cursor(text: str) -> int:
    """The offset behind a cursor made by `encode_cursor`; SearchError for anything else."""
    try:
        raw = base64.b64decode(unquote(text), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raw = ""
    if not raw.endswith("\n") or not raw[:-1].isdigit():
        raise SearchError(f"after must be a paging cursor returned by a previous search, not {text!r}")
    return int(raw[:-1])


def to_millis(text: str) -> int | None:
    """Epoch milliseconds from `1717200000000`, `2026-01-31` or an ISO 8601 datetime (naive: UTC)."""
    if _INTEGER.fullmatch(text):
        return int(text)
    try:
        return int(parse_utc(text).timestamp() * 1000)
    except ValueError:
        return None


@dataclass(frozen=True)
class Operand:
    """A value in the forms HubSpot compares it by: text, number, epoch ms (dates only)."""

    text: str
    number: Decimal | None
    millis: int | None
    sent: str = ""  # the value as the request wrote it (IN / NOT_IN compare this, not `text`)

    @classmethod
    def of(cls, raw: str, is_date: bool) -> Operand:
        """Parse `raw`; `millis` only for date properties."""
        number = Decimal(raw) if _NUMBER.fullmatch(raw) else None
        return cls(raw.casefold(), number, to_millis(raw) if is_date else None, raw)

    def compare(self, other: Operand) -> int:
        """-1, 0 or 1: by date, else by number when both are numbers, else by text."""
        left: Any
        right: Any
        if self.millis is not None and other.millis is not None:
            left, right = self.millis, other.millis
        elif self.number is not None and other.number is not None:
            left, right = self.number, other.number
        else:
            left, right = self.text, other.text
        return int(left > right) - int(left < right)


@dataclass(frozen=True)
class Filter:
    """One filter of a group, with its values pre-parsed."""

    prop: str
    operator: str
    values: tuple[Operand, ...]

    def matches(self, props: Mapping[str, str | None], date_props: frozenset[str]) -> bool:
        """Whether a deal's properties satisfy this filter."""
        raw = props.get(self.prop)
        present = raw is not None and raw != ""
        op = self.operator
        if op in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
            return present == (op == "HAS_PROPERTY")
        if raw is None or not present:
            return op in ("NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN")
        if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            pattern = self.values[0].text
            hit = any(fnmatchcase(token, pattern) for token in [raw.casefold(), *raw.casefold().split()])
            return hit == (op == "CONTAINS_TOKEN")
        mine = Operand.of(raw, self.prop in date_props)
        if op in ("IN", "NOT_IN"):
            # HubSpot's search guide: string values in IN / NOT_IN must be lowercase, as the stored
            # value is lowercased before comparing; a value sent in mixed case never matches.
            lowered = raw.lower()
            hit = any(v.sent == lowered or (mine.number is not None and mine.compare(v) == 0) for v in self.values)
            return hit == (op == "IN")
        order = [mine.compare(value) for value in self.values]
        if op == "BETWEEN":
            return order[0] >= 0 and order[1] <= 0
        return {
            "EQ": order[0] == 0,
            "NEQ": order[0] != 0,
            "LT": order[0] < 0,
            "LTE": order[0] <= 0,
            "GT": order[0] > 0,
            "GTE": order[0] >= 0,
        }[op]


@dataclass(frozen=True)
class SearchRequest:
    """A validated search: OR of AND-groups, sorts as (property, descending), one page."""

    groups: tuple[tuple[Filter, ...], ...]
    sorts: tuple[tuple[str, bool], ...]
    properties: tuple[str, ...] | None
    limit: int
    after: int
    query: str | None

    def cache_key(self) -> tuple[object, ...]:
        """What decides the ordered result set (not the page)."""
        return (self.groups, self.sorts, self.query)


def _as_text(value: object, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise SearchError(f"{where}: expected a string value, got {value!r}")


def _parse_filter(raw: object, where: str, date_props: frozenset[str]) -> Filter:
    if not isinstance(raw, dict) or not isinstance(raw.get("propertyName"), str):
        raise SearchError(f"{where}: a filter needs a propertyName")
    prop, op = raw["propertyName"], raw.get("operator")
    if op not in OPERATORS:
        raise SearchError(f"{where}: unknown operator {op!r}; expected one of {sorted(OPERATORS)}")
    texts: list[str]
    if op in VALUE_OPERATORS:
        if raw.get("value") is None:
            raise SearchError(f"{where}: operator {op} needs a value")
        texts = [_as_text(raw["value"], where)]
    elif op == "BETWEEN":
        if raw.get("value") is None or raw.get("highValue") is None:
            raise SearchError(f"{where}: operator BETWEEN needs value and highValue")
        texts = [_as_text(raw["value"], where), _as_text(raw["highValue"], where)]
    elif op in ("IN", "NOT_IN"):
        values = raw.get("values")
        if not isinstance(values, list) or not values:
            raise SearchError(f"{where}: operator {op} needs a non-empty values list")
        texts = [_as_text(v, where) for v in values]
    else:
        texts = []
    return Filter(prop, op, tuple(Operand.of(t, prop in date_props) for t in texts))


def _parse_sorts(raw: object) -> tuple[tuple[str, bool], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise SearchError("sorts must be a list")
    sorts = []
    for item in raw:
        if isinstance(item, str):  # the SDK types sorts as list[str]: "prop" or "-prop"
            sorts.append((item.lstrip("-"), item.startswith("-")))
        elif isinstance(item, dict) and isinstance(item.get("propertyName"), str):
            direction = item.get("direction", "ASCENDING")
            if direction not in ("ASCENDING", "DESCENDING"):
                raise SearchError(f"sort direction must be ASCENDING or DESCENDING, not {direction!r}")
            sorts.append((item["propertyName"], direction == "DESCENDING"))
        else:
            raise SearchError(f"invalid sort {item!r}")
    return tuple(sorts)


def _parse_page(body: Mapping[str, Any]) -> tuple[int, int]:
    limit = body.get("limit")
    limit = DEFAULT_LIMIT if limit is None else limit
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise SearchError(f"limit must be a non-negative integer, not {limit!r}")
    if limit > MAX_LIMIT:
        raise SearchError(f"limit must be at most {MAX_LIMIT}, not {limit}")
    after_raw = body.get("after")
    after = 0 if after_raw in (None, "") else decode_cursor(str(after_raw))
    if after + limit > MAX_RESULTS:
        raise SearchError(
            f"Search results are limited to {MAX_RESULTS} total results for any given query; "
            f"after={after} with limit={limit} goes past it. Narrow the query (e.g. hs_object_id GT)."
        )
    return limit, after


def parse_search(body: object, date_props: frozenset[str] = DATE_PROPERTIES) -> SearchRequest:
    """Validate a search body as HubSpot does; raise SearchError with the reason."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise SearchError("the request body must be a JSON object")
    raw_groups = body.get("filterGroups") or []
    if not isinstance(raw_groups, list):
        raise SearchError("filterGroups must be a list")
    if len(raw_groups) > MAX_GROUPS:
        raise SearchError(f"Too many filter groups: {len(raw_groups)}; the maximum is {MAX_GROUPS}")
    groups, total = [], 0
    for g, group in enumerate(raw_groups):
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list):
            raise SearchError(f"filterGroups[{g}] needs a filters list")
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise SearchError(f"filterGroups[{g}] has {len(filters)} filters; the maximum is {MAX_FILTERS_PER_GROUP}")
        total += len(filters)
        groups.append(
            tuple(_parse_filter(f, f"filterGroups[{g}].filters[{i}]", date_props) for i, f in enumerate(filters))
        )
    if total > MAX_FILTERS:
        raise SearchError(f"Too many filters: {total}; the maximum is {MAX_FILTERS} across all groups")
    props = body.get("properties")
    if props is not None and not (isinstance(props, list) and all(isinstance(p, str) for p in props)):
        raise SearchError("properties must be a list of property names")
    limit, after = _parse_page(body)
    query = body.get("query")
    return SearchRequest(
        tuple(groups),
        _parse_sorts(body.get("sorts")),
        None if props is None else tuple(props),
        limit,
        after,
        query if isinstance(query, str) and query else None,
    )


def _sort_value(raw: str | None, is_date: bool) -> tuple[int, Any]:
    if raw is None or raw == "":
        return (2, "")
    operand = Operand.of(raw, is_date)
    if operand.millis is not None:
        return (0, operand.millis)
    if operand.number is not None:
        return (0, operand.number)
    return (1, operand.text)


def run_search(
    deals: Iterable[tuple[int, Mapping[str, str | None]]],
    request: SearchRequest,
    date_props: frozenset[str] = DATE_PROPERTIES,
) -> list[int]:
    """Ids of the matching deals in result order (sorts, then id ascending)."""
    hits = []
    for deal_id, props in deals:
        if request.query and request.query.casefold() not in (props.get("dealname") or "").casefold():
            continue
        if not request.groups or any(all(f.matches(props, date_props) for f in group) for group in request.groups):
            hits.append((deal_id, props))
    hits.sort(key=lambda hit: hit[0])
    for prop, descending in reversed(request.sorts):
        hits.sort(key=lambda hit: _sort_value(hit[1].get(prop), prop in date_props), reverse=descending)
    return [deal_id for deal_id, _ in hits]
