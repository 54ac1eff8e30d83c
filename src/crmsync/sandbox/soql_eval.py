"""Run a parsed SOQL query over the emulator's rows: check fields, filter, sort, project to JSON.

The Salesforce emulator calls `run_query` with a `Dataset` (its state). Field names are
matched case-insensitively and returned in their canonical spelling; string comparisons are
case-insensitive as in Salesforce; unknown fields fail with Salesforce's INVALID_FIELD text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol

from crmsync.sandbox.soql import BoolOp, Comparison, Condition, FieldRef, Kind, Literal, Not, Query
from crmsync.sandbox.soql_lex import SoqlError, decode_string, located

Row = Mapping[str, Any]


class FieldType(StrEnum):
    """The field types the emulator knows, as Salesforce's describe names them."""

    ID = "id"
    REFERENCE = "reference"
    STRING = "string"
    PICKLIST = "picklist"
    BOOLEAN = "boolean"
    DOUBLE = "double"
    CURRENCY = "currency"
    DATE = "date"
    DATETIME = "datetime"


_LITERAL_KINDS: dict[FieldType, Kind] = {
    FieldType.ID: Kind.STRING,
    FieldType.REFERENCE: Kind.STRING,
    FieldType.STRING: Kind.STRING,
    FieldType.PICKLIST: Kind.STRING,
    FieldType.BOOLEAN: Kind.BOOLEAN,
    FieldType.DOUBLE: Kind.NUMBER,
    FieldType.CURRENCY: Kind.NUMBER,
    FieldType.DATE: Kind.DATE,
    FieldType.DATETIME: Kind.DATETIME,
}
_CASELESS = {FieldType.STRING, FieldType.PICKLIST}


@dataclass(frozen=True)
class Relationship:
    """A lookup: `Account` on Opportunity follows `AccountId` to an Account row."""

    name: str
    target: str
    id_field: str


@dataclass(frozen=True)
class EntitySchema:
    """An sObject's fields (canonical name → type) and relationships."""

    name: str
    fields: Mapping[str, FieldType]
    relationships: Mapping[str, Relationship]

    def field(self, name: str) -> tuple[str, FieldType] | None:
        """The canonical name and type of a field, matched case-insensitively."""
        for canonical, ftype in self.fields.items():
            if canonical.lower() == name.lower():
                return canonical, ftype
        return None

    def relationship(self, name: str) -> Relationship | None:
        """A relationship by name, matched case-insensitively."""
        return next((r for r in self.relationships.values() if r.name.lower() == name.lower()), None)


class Dataset(Protocol):
    """What the evaluator reads: schemas, rows of an entity, and one row by Id."""

    def schema(self, entity: str) -> EntitySchema | None: ...

    def rows(self, entity: str) -> Iterable[Row]: ...

    def get(self, entity: str, record_id: str) -> Row | None: ...


@dataclass(frozen=True)
class _Resolved:
    """A field path resolved against the schema: relationships to follow, then one field."""

    ref: FieldRef
    hops: tuple[Relationship, ...]
    names: tuple[str, ...]  # canonical relationship names, then the canonical field name
    ftype: FieldType


def format_datetime(value: datetime) -> str:
    """Salesforce's datetime rendering: `2026-01-31T10:00:00.000+0000`."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def to_json(value: Any) -> Any:
    """A stored value as Salesforce's JSON shows it."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


class _Runner:
    def __init__(self, query: Query, data: Dataset) -> None:
        self.query = query
        self.data = data
        schema = data.schema(query.entity)
        if schema is None:
            message = f"sObject type '{query.entity}' is not supported."
            raise SoqlError("INVALID_TYPE", located(query.text, query.entity_pos, message))
        self.schema = schema

    def resolve(self, ref: FieldRef) -> _Resolved:
        schema, hops, names = self.schema, [], []
        for step in ref.path[:-1]:
            rel = schema.relationship(step)
            target = self.data.schema(rel.target) if rel else None
            if rel is None or target is None:
                message = (
                    f"Didn't understand relationship '{step}' in field path. If you are attempting to use a "
                    "custom relationship, be sure to append the '__r' after the custom relationship name. "
                    "Please reference your WSDL or the describe call for the appropriate names."
                )
                raise SoqlError("INVALID_FIELD", located(self.query.text, ref.pos, message))
            hops.append(rel)
            names.append(rel.name)
            schema = target
        found = schema.field(ref.path[-1])
        if found is None:
            message = (
                f"No such column '{ref.path[-1]}' on entity '{schema.name}'. If you are attempting to use a "
                "custom field, be sure to append the '__c' after the custom field name. Please reference "
                "your WSDL or the describe call for the appropriate names."
            )
            raise SoqlError("INVALID_FIELD", located(self.query.text, ref.pos, message))
        return _Resolved(ref, tuple(hops), (*names, found[0]), found[1])

    def value(self, row: Row, field: _Resolved) -> Any:
        current: Row | None = row
        for hop in field.hops:
            related_id = current.get(hop.id_field) if current is not None else None
            current = self.data.get(hop.target, related_id) if related_id else None
        return current.get(field.names[-1]) if current is not None else None

    def operand(self, field: _Resolved, literal: Literal) -> Any:
        if literal.kind is Kind.NULL:
            return None
        if literal.kind is not _LITERAL_KINDS[field.ftype]:
            message = f"value of filter criterion for field '{field.ref.text}' must be of type {field.ftype}"
            if (
                field.ftype
                in (FieldType.DOUBLE, FieldType.CURRENCY, FieldType.BOOLEAN, FieldType.DATE, FieldType.DATETIME)
                and literal.kind is Kind.STRING
            ):
                message += " and should not be enclosed in quotes"
            raise SoqlError("INVALID_FIELD", located(self.query.text, literal.pos, message))
        value = literal.value
        return value.casefold() if field.ftype in _CASELESS and isinstance(value, str) else value

    def compile(self, cond: Condition) -> Callable[[Row], bool]:
        if isinstance(cond, BoolOp):
            parts = [self.compile(c) for c in cond.operands]
            if cond.op == "AND":
                return lambda row: all(p(row) for p in parts)
            return lambda row: any(p(row) for p in parts)
        if isinstance(cond, Not):
            inner = self.compile(cond.operand)
            return lambda row: not inner(row)
        return self.compare(cond)

    def compare(self, cond: Comparison) -> Callable[[Row], bool]:
        field = self.resolve(cond.field)
        caseless = field.ftype in _CASELESS

        def get(row: Row) -> Any:
            value = self.value(row, field)
            return value.casefold() if caseless and isinstance(value, str) else value

        if cond.op == "LIKE":
            if _LITERAL_KINDS[field.ftype] is not Kind.STRING:
                message = f"invalid operator on field '{field.ref.text}'"
                raise SoqlError("INVALID_QUERY_FILTER_OPERATOR", located(self.query.text, cond.field.pos, message))
            pattern = _like_regex(cond.values[0].raw[1:-1])
            return lambda row: isinstance(v := self.value(row, field), str) and pattern.fullmatch(v) is not None
        operands = [self.operand(field, lit) for lit in cond.values]
        if cond.op in ("IN", "NOTIN"):
            wanted, negate = set(operands), cond.op == "NOTIN"
            return lambda row: (get(row) in wanted) != negate
        target = operands[0]
        if cond.op == "=":
            return lambda row: get(row) == target
        if cond.op == "!=":
            return lambda row: get(row) != target
        test = _ORDERED[cond.op]
        return lambda row: (v := get(row)) is not None and target is not None and test(v, target)

    def sort(self, rows: list[Row]) -> list[Row]:
        for item in reversed(self.query.order_by):
            field = self.resolve(item.field)
            caseless = field.ftype in _CASELESS
            present = [r for r in rows if self.value(r, field) is not None]
            absent = [r for r in rows if self.value(r, field) is None]

            def key(row: Row, field: _Resolved = field, caseless: bool = caseless) -> Any:
                value = self.value(row, field)
                return value.casefold() if caseless else value

            present.sort(key=key, reverse=item.descending)
            rows = present + absent if item.nulls_last else absent + present
        return rows

    def project(self, row: Row, fields: list[_Resolved], version: str) -> dict[str, Any]:
        out = _with_attributes(self.schema.name, row, version)
        for field in fields:
            target, current = out, row
            for hop, name in zip(field.hops, field.names, strict=False):
                related_id = current.get(hop.id_field)
                related = self.data.get(hop.target, related_id) if related_id else None
                if related is None:
                    target[name] = None
                    break
                nested = target.get(name)
                if not isinstance(nested, dict):
                    nested = target[name] = _with_attributes(hop.target, related, version)
                target, current = nested, related
            else:
                target[field.names[-1]] = to_json(current.get(field.names[-1]))
        return out


_ORDERED: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _like_regex(body: str) -> re.Pattern[str]:
    parts: list[str] = []
    text = decode_string(body, keep_like_escapes=True)
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "%_":
            parts.append(re.escape(text[i + 1]))
            i += 2
            continue
        parts.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _with_attributes(entity: str, row: Row, version: str) -> dict[str, Any]:
    url = f"/services/data/v{version}/sobjects/{entity}/{row.get('Id')}"
    return {"attributes": {"type": entity, "url": url}}


def run_query(query: Query, data: Dataset, *, include_deleted: bool, version: str) -> list[dict[str, Any]]:
    """Every matching row of `query.entity`, filtered, sorted, limited and projected to JSON."""
    runner = _Runner(query, data)
    fields = [runner.resolve(ref) for ref in query.fields]
    seen: set[str] = set()
    for field in fields:
        key = ".".join(field.names).lower()
        if key in seen:
            message = f"duplicate field selected: {field.ref.text}"
            raise SoqlError("MALFORMED_QUERY", located(query.text, field.ref.pos, message))
        seen.add(key)
    accept = runner.compile(query.where) if query.where is not None else (lambda row: True)
    for item in query.order_by:
        runner.resolve(item.field)
    rows = [r for r in data.rows(runner.schema.name) if (include_deleted or not r.get("IsDeleted")) and accept(r)]
    rows = runner.sort(rows)
    start = query.offset or 0
    end = start + query.limit if query.limit is not None else None
    return [runner.project(row, fields, version) for row in rows[start:end]]
