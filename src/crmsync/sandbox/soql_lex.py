"""The lexical layer of the emulator's SOQL: tokens, string escapes, datetime literals, errors.

`soql.py` parses the tokens into a syntax tree; `soql_eval.py` reports errors through
`SoqlError` and `located`, which lay them out as Salesforce does (row, column and a caret).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone


class SoqlError(Exception):
    """A query Salesforce would reject: `error_code` and `message` as Salesforce words them."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


def located(text: str, pos: int, message: str) -> str:
    """Salesforce's error layout: the query line, a caret, `ERROR at Row:r:Column:c`, the message."""
    row = text.count("\n", 0, pos) + 1
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    col = pos - line_start + 1
    return f"\n{line}\n{' ' * (col - 1)}^\nERROR at Row:{row}:Column:{col}\n{message}"


_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
    |(?P<date>\d{4}-\d{2}-\d{2})
    |(?P<number>[+-]?\d+(?:\.\d+)?)
    |(?P<string>'(?:[^'\\]|\\.)*')
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    |(?P<op>!=|<>|<=|>=|=|<|>)
    |(?P<punct>[(),])""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_LIKE_ESCAPES = {"%": "%", "_": "_"}


@dataclass(frozen=True)
class Token:
    """One lexical token: its kind (the regex group), text and offset in the query."""

    kind: str
    text: str
    pos: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "ident" else self.text


def decode_string(body: str, *, keep_like_escapes: bool = False) -> str:
    """Decode a string literal's body (between the quotes); LIKE keeps `\\%` and `\\_` escaped."""
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1] if i + 1 < len(body) else ""
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
        elif nxt in _LIKE_ESCAPES:
            out.append("\\" + nxt if keep_like_escapes else nxt)
        elif nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2 : i + 6]):
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 4
        else:
            raise ValueError(f"\\{nxt}")
        i += 2
    return "".join(out)


def parse_datetime(text: str) -> datetime:
    """A SOQL datetime literal (Z, +hh:mm or +hhmm; optional milliseconds) as an aware UTC datetime."""
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,3}))?(Z|([+-])(\d{2}):?(\d{2}))", text)
    if m is None:
        raise ValueError(text)
    base = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    millis = int((m.group(2) or "0").ljust(3, "0"))
    tz = UTC
    if m.group(3) != "Z":
        sign = -1 if m.group(4) == "-" else 1
        tz = timezone(sign * timedelta(hours=int(m.group(5)), minutes=int(m.group(6))))
    return base.replace(microsecond=millis * 1000, tzinfo=tz).astimezone(UTC)


def tokenize(text: str) -> list[Token]:
    """Split a query into tokens, ending with an `eof` token; MALFORMED_QUERY on a stray character."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            what = "unterminated string literal" if text[pos] == "'" else f"unexpected token: '{text[pos]}'"
            raise SoqlError("MALFORMED_QUERY", located(text, pos, what))
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, m.group(), pos))
        pos = m.end()
    tokens.append(Token("eof", "", len(text)))
    return tokens
