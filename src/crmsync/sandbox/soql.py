"""Parse the SOQL subset crmsync generates into a syntax tree (the emulator's side).

SELECT paths FROM entity [WHERE AND/OR/NOT, = != < <= > >= IN NOT IN LIKE] [ORDER BY] [LIMIT]
[OFFSET]; mixing AND and OR without parentheses is an error, as in Salesforce. `soql_eval.py`
runs the tree; `soql_lex.py` holds tokens, literals and the errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from crmsync.sandbox.soql_lex import SoqlError, Token, decode_string, located, parse_datetime, tokenize

_KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "ASC", "DESC"}
_KEYWORDS |= {"NULLS", "FIRST", "LAST", "LIMIT", "OFFSET", "TRUE", "FALSE", "NULL"}


class Kind(StrEnum):
    """The kind of a literal value in a condition."""

    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    NULL = "null"
    DATE = "date"
    DATETIME = "datetime"


@dataclass(frozen=True)
class FieldRef:
    """A field path as written (`Account.Name`) and where it starts in the query."""

    path: tuple[str, ...]
    pos: int

    @property
    def text(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Literal:
    """A literal: `value` is decoded (str, float, bool, None, date, datetime); `raw` as written."""

    kind: Kind
    value: str | float | bool | date | datetime | None
    raw: str
    pos: int


@dataclass(frozen=True)
class Comparison:
    """`field op value`; op is one of = != < <= > >= IN NOTIN LIKE."""

    field: FieldRef
    op: str
    values: tuple[Literal, ...]


@dataclass(frozen=True)
class BoolOp:
    """AND or OR over two or more conditions."""

    op: str
    operands: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    """NOT over one condition."""

    operand: Condition


Condition = Comparison | BoolOp | Not


@dataclass(frozen=True)
class OrderItem:
    """One ORDER BY key."""

    field: FieldRef
    descending: bool
    nulls_last: bool


@dataclass(frozen=True)
class Query:
    """A parsed SELECT statement."""

    text: str
    fields: tuple[FieldRef, ...]
    entity: str
    entity_pos: int
    where: Condition | None
    order_by: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def fail(self, tok: Token, message: str | None = None) -> SoqlError:
        shown = tok.text if tok.kind != "eof" else "EOF"
        return SoqlError("MALFORMED_QUERY", located(self.text, tok.pos, message or f"unexpected token: '{shown}'"))

    def accept(self, *words: str) -> Token | None:
        if self.peek().upper in words:
            return self.take()
        return None

    def expect(self, word: str) -> Token:
        tok = self.take()
        if tok.upper != word:
            raise self.fail(tok)
        return tok

    def field(self) -> FieldRef:
        tok = self.take()
        if tok.kind != "ident" or tok.upper in _KEYWORDS:
            raise self.fail(tok)
        return FieldRef(tuple(tok.text.split(".")), tok.pos)

    def integer(self) -> int:
        tok = self.take()
        if tok.kind != "number" or not tok.text.isdigit():
            raise self.fail(tok)
        return int(tok.text)

    def query(self) -> Query:
        self.expect("SELECT")
        fields = [self.field()]
        while self.accept(","):
            fields.append(self.field())
        self.expect("FROM")
        entity = self.take()
        if entity.kind != "ident" or "." in entity.text or entity.upper in _KEYWORDS:
            raise self.fail(entity)
        where = self.condition() if self.accept("WHERE") else None
        order: list[OrderItem] = []
        if self.accept("ORDER"):
            self.expect("BY")
            order.append(self.order_item())
            while self.accept(","):
                order.append(self.order_item())
        limit = self.integer() if self.accept("LIMIT") else None
        offset = self.integer() if self.accept("OFFSET") else None
        if self.peek().kind != "eof":
            raise self.fail(self.peek())
        return Query(self.text, tuple(fields), entity.text, entity.pos, where, tuple(order), limit, offset)

    def order_item(self) -> OrderItem:
        field = self.field()
        direction = self.accept("ASC", "DESC")
        descending = direction is not None and direction.upper == "DESC"
        nulls_last = descending  # Salesforce's default: nulls first ascending, last descending
        if self.accept("NULLS"):
            which = self.take()
            if which.upper not in ("FIRST", "LAST"):
                raise self.fail(which)
            nulls_last = which.upper == "LAST"
        return OrderItem(field, descending, nulls_last)

    def condition(self) -> Condition:
        first = self.term()
        joiner = self.peek().upper
        if joiner not in ("AND", "OR"):
            return first
        operands = [first]
        while self.accept(joiner):
            operands.append(self.term())
        if self.peek().upper in ("AND", "OR"):
            raise self.fail(self.peek())  # SOQL wants parentheses when AND and OR are mixed
        return BoolOp(joiner, tuple(operands))

    def term(self) -> Condition:
        if self.accept("NOT"):
            return Not(self.term())
        if self.accept("("):
            inner = self.condition()
            self.expect(")")
            return inner
        field = self.field()
        tok = self.take()
        if tok.kind == "op":
            return Comparison(field, "!=" if tok.text == "<>" else tok.text, (self.literal(),))
        if tok.upper == "LIKE":
            value = self.literal()
            if value.kind is not Kind.STRING:
                raise self.fail(self.tokens[self.i - 1])
            return Comparison(field, "LIKE", (value,))
        op = "IN"
        if tok.upper == "NOT":
            op, tok = "NOTIN", self.take()
        if tok.upper != "IN":
            raise self.fail(tok)
        self.expect("(")
        values = [self.literal()]
        while self.accept(","):
            values.append(self.literal())
        self.expect(")")
        return Comparison(field, op, tuple(values))

    def literal(self) -> Literal:
        tok = self.take()
        upper = tok.upper
        try:
            if tok.kind == "string":
                return Literal(Kind.STRING, decode_string(tok.text[1:-1]), tok.text, tok.pos)
            if tok.kind == "number":
                return Literal(Kind.NUMBER, float(tok.text), tok.text, tok.pos)
            if tok.kind == "date":
                return Literal(Kind.DATE, date.fromisoformat(tok.text), tok.text, tok.pos)
            if tok.kind == "datetime":
                return Literal(Kind.DATETIME, parse_datetime(tok.text), tok.text, tok.pos)
        except ValueError as exc:
            raise self.fail(tok, f"invalid literal {tok.text}: {exc}") from exc
        if upper in ("TRUE", "FALSE"):
            return Literal(Kind.BOOLEAN, upper == "TRUE", tok.text, tok.pos)
        if upper == "NULL":
            return Literal(Kind.NULL, None, tok.text, tok.pos)
        raise self.fail(tok)


def parse(text: str) -> Query:
    """Parse one SOQL statement; raises `SoqlError("MALFORMED_QUERY", …)` on bad syntax."""
    return _Parser(text).query()
