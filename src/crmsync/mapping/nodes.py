"""Plain YAML nodes with positions, and the typed readers mapping and case files share.

`loader.py` turns ruamel's composed tree into these nodes (so ruamel stays in that one
module); `schema.py` and `cases.py` read them. Readers record problems in a `Report` and
never raise.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TypeVar

from crmsync.errors import QUOTE_LIMIT, Problem, quote
from crmsync.mapping.rules import Position
from crmsync.mapping.values import FALSE_WORDS, TRUE_WORDS

TEXT_KINDS = frozenset({"str", "int", "float"})  # scalars usable as names, kept as written
E = TypeVar("E", bound=StrEnum)


@dataclass(frozen=True)
class Scalar:
    """A scalar as written, with the YAML type its text resolves to."""

    text: str
    kind: str  # str | int | float | bool | null | merge
    pos: Position


@dataclass(eq=False)
class Seq:
    """A YAML sequence. Mutable only so the converter can share aliased nodes."""

    items: list[Node]
    pos: Position


@dataclass(eq=False)
class Map:
    """A YAML mapping, pairs in written order, repeated keys kept for `fields` to report."""

    pairs: list[tuple[Node, Node]]
    pos: Position


Node = Scalar | Seq | Map
Field = tuple[Scalar, Node]  # a key and its value


@dataclass
class Report:
    """Collects every problem of one file instead of stopping at the first."""

    problems: list[Problem] = field(default_factory=list)

    def add(self, pos: Position, message: str, hint: str = "") -> None:
        """Record one problem at a node's position."""
        self.problems.append(Problem(pos.path, pos.line, pos.col, message, hint))


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to `word`, ignoring case and surrounding blanks, if one is close."""
    by_lower: dict[str, str] = {}
    for option in choices:
        by_lower.setdefault(option.strip().lower(), option)
    close = difflib.get_close_matches(word.strip().lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None


def choices_hint(word: str, choices: Sequence[str], label: str) -> str:
    """`did you mean 'x'? <label>: a, b, c` — the hint for a word that is not allowed."""
    guess = did_you_mean(word, choices)
    listing = f"{label}: {', '.join(choices)}"
    return f"did you mean '{guess}'? {listing}" if guess else listing


def describe(node: Node) -> str:
    """How a node reads in a message: 'nothing', a quoted scalar, 'a list', 'a mapping'."""
    if isinstance(node, Scalar):
        if node.kind == "null":
            return "nothing"
        plain = len(node.text) <= QUOTE_LIMIT and node.text.isprintable()  # a newline would break the line
        return f"'{node.text}'" if plain else quote(node.text)
    return "a list" if isinstance(node, Seq) else "a mapping"


def at(fld: Field) -> Position:
    """Where a bad value is reported: at the value, or at its key when the value is empty."""
    key, node = fld
    return key.pos if isinstance(node, Scalar) and node.kind == "null" else node.pos


class Fields(dict[str, Field]):
    """A mapping's keys by name, plus the known keys that its unknown keys look like."""

    def __init__(self) -> None:
        super().__init__()
        self.guesses: set[str] = set()  # a missing key guessed here is not reported twice

    def lacks(self, key: str) -> bool:
        """True when `key` is neither present nor the likely meaning of a misspelt key."""
        return key not in self and key not in self.guesses


def fields(node: Map, allowed: Sequence[str] | None, where: str, rep: Report) -> Fields:
    """A mapping's keys by name; unknown (when `allowed` is given), repeated and odd keys reported."""
    got = Fields()
    for key, value in node.pairs:
        if not isinstance(key, Scalar) or key.kind in ("null", "merge") or not key.text.strip():
            rep.add(key.pos, f"{describe(key)} cannot be a key {where}", "keys are plain names; write them out")
        elif key.text in got:
            first = got[key.text][0].pos.line
            rep.add(key.pos, f"duplicate key '{key.text}' {where} (first at line {first})", "keep only one")
        elif allowed is not None and key.text not in allowed:
            rep.add(key.pos, f"unknown key '{key.text}' {where}", choices_hint(key.text, allowed, "allowed keys"))
            got.guesses.add(did_you_mean(key.text, allowed) or "")
        else:
            got[key.text] = (key, value)
    return got


def name(fld: Field | None, rep: Report, example: str = "") -> str | None:
    """A non-empty name (property, stage, feature); numbers are kept as written."""
    if fld is None:
        return None
    key, node = fld
    if isinstance(node, Scalar) and node.kind in TEXT_KINDS and node.text.strip():
        return node.text
    hint = f"for example {key.text}: {example}" if example else "write a name"
    rep.add(at(fld), f"{key.text}: must be a name, not {describe(node)}", hint)
    return None


def names(fld: Field | None, rep: Report, example: str) -> tuple[str, ...] | None:
    """A non-empty list of names, e.g. `stages: [closedwon]`."""
    if fld is None:
        return None
    key, node = fld
    if not isinstance(node, Seq) or not node.items:
        shown = "an empty list" if isinstance(node, Seq) else describe(node)
        rep.add(at(fld), f"{key.text}: must be a list of names, not {shown}", f"for example {key.text}: {example}")
        return None
    out = [name((key, item), rep, example) for item in node.items]
    return tuple(n for n in out if n is not None) if None not in out else None


def one_of(fld: Field | None, allowed: Sequence[str], rep: Report) -> str | None:
    """One word from a fixed list, ignoring case and surrounding blanks."""
    if fld is None:
        return None
    key, node = fld
    word = node.text.strip().lower() if isinstance(node, Scalar) and node.kind != "null" else None
    if word is not None and word in allowed:
        return word
    rep.add(at(fld), f"{key.text}: {describe(node)} is not allowed", choices_hint(word or "", allowed, "use one of"))
    return None


def choice(fld: Field | None, enum: type[E], rep: Report) -> E | None:
    """A member of a StrEnum, e.g. `metric_period: current_month`."""
    word = one_of(fld, [m.value for m in enum], rep)
    return enum(word) if word is not None else None


def text(node: Node) -> str | None:
    """A scalar as text: booleans become 'true'/'false', others keep their written text."""
    if not isinstance(node, Scalar) or node.kind == "null":
        return None
    if node.kind == "bool":  # YAML 1.1 files (`%YAML 1.1`) also resolve yes/on/y as booleans
        return "true" if node.text.lower() in ("true", "yes", "on", "y") else "false"
    return node.text


def boolean(node: Node) -> str | None:
    """'true' or 'false' for a YAML boolean or the words translate accepts; None for anything else."""
    word = (text(node) or "").strip().lower()
    return "true" if word in TRUE_WORDS else "false" if word in FALSE_WORDS else None


def decimal(node: Node) -> Decimal | None:
    """A finite number such as `1000`, `2.5` or `1_000`; None for anything else."""
    word = text(node)
    if word is None or (isinstance(node, Scalar) and node.kind == "bool"):
        return None
    if not word.isascii():  # Decimal reads Arabic-Indic and full-width digits: a mapping must not
        return None
    try:
        number = Decimal(word.strip().replace("_", ""))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and (number.adjusted() > -100 or number.is_zero()) else None
