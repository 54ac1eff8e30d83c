"""The mapping-file schema: the keys of an override rule and how each is read and checked.

`loader.py` reads the file-level keys with the readers of `nodes.py` (re-exported here) and
calls `override_rule` for each entry under `overrides:`. Problems go to a `Report`; nothing raises.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from types import MappingProxyType

from crmsync.domain import Combine, DriftPolicy, MetricPeriod, MonthReset, ValueType
from crmsync.mapping.nodes import (
    Field,
    Fields,
    Map,
    Node,
    Report,
    Scalar,
    Seq,
    at,
    boolean,
    choice,
    decimal,
    describe,
    fields,
    name,
    one_of,
    text,
)
from crmsync.mapping.rules import Condition, Op, OverrideRule, Position
from crmsync.mapping.values import MAX_INT64

WRITTEN_TYPES = [t.value for t in (ValueType.BOOLEAN, ValueType.NUMERIC, ValueType.UNLIMITED, ValueType.TRAIT)]

# ---- overrides -------------------------------------------------------------------------

RULE_KEYS = (
    *("feature", "type", "from", "value", "map", "multiply", "default", "trait", "when", "metric_period"),
    *("metric_period_month_reset", "expires_from", "expires_after_days", "starts_from", "combine", "drift"),
    "parse",
)
OPERATORS = {">": Op.GT, ">=": Op.GTE, "<": Op.LT, "<=": Op.LTE}
WHEN_HINT = "give a value, a list of values, {'>': 10}, {present: true} or {absent: true}"
WANT = {
    ValueType.BOOLEAN: "true or false",
    ValueType.NUMERIC: "a whole number (0 or more)",
    ValueType.UNLIMITED: "'unlimited'",
    ValueType.TRAIT: "a Schematic trait id (the value_trait_id), e.g. trait_abc123",
}
REQUIRED = {
    "feature": "name the Schematic feature by id, flag key or exact name, e.g. feature: seats",
    "type": "add type: boolean, numeric, unlimited or trait",
}


def override_rule(item: Node, rep: Report) -> OverrideRule | None:
    """One entry under `overrides:`; None when it has problems (all of them are in `rep`)."""
    if not isinstance(item, Map):
        hint = "start each override with '- feature: <name>' and put 'type: ...' under it"
        rep.add(item.pos, f"each override must be a mapping of settings, not {describe(item)}", hint)
        return None
    before = len(rep.problems)
    f = fields(item, RULE_KEYS, "in an override", rep)
    for key, hint in REQUIRED.items():
        if f.lacks(key):
            rep.add(item.pos, f"this override has no {key}:", hint)
    word = one_of(f.get("type"), WRITTEN_TYPES, rep)  # credit and unknown are Schematic's, never written
    vtype = ValueType(word) if word is not None else None
    rule = OverrideRule(
        feature=name(f.get("feature"), rep, "seats") or "",
        value_type=vtype or ValueType.BOOLEAN,
        position=f["feature"][1].pos if "feature" in f else item.pos,
        source_property=name(f.get("from"), rep, "seats_purchased"),
        when=conditions(f["when"], rep) if "when" in f else (),
        metric_period=choice(f.get("metric_period"), MetricPeriod, rep),
        month_reset=choice(f.get("metric_period_month_reset"), MonthReset, rep),
        expires_from=name(f.get("expires_from"), rep, "contract_end_date"),
        expires_after_days=_days(f.get("expires_after_days"), rep),
        starts_from=name(f.get("starts_from"), rep, "contract_start_date"),
        combine=choice(f.get("combine"), Combine, rep),
        multiply=_number(f.get("multiply"), rep, whole=False),
        trait=name(f.get("trait"), rep, "trait_abc123"),
        drift=choice(f.get("drift"), DriftPolicy, rep),
        parse=one_of(f.get("parse"), ["text"], rep),  # the online check lets a text `from:` give the type
        places={k: at(f[k]) for k in ("from", "expires_from", "starts_from", "trait") if k in f},
    )
    if vtype is not None:
        rule = _values(rule, f, item, rep)
    _combinations(f, rule, rep)
    return rule if len(rep.problems) == before else None


def _misplaced(vtype: ValueType, f: Fields, rep: Report) -> set[str]:
    """Keys that do not fit the type, or transform a `from:` the override does not have; reported."""
    wrong_type = {
        "from": vtype is ValueType.UNLIMITED,
        "map": vtype is ValueType.UNLIMITED,
        "multiply": vtype is not ValueType.NUMERIC,
        "trait": vtype is not ValueType.TRAIT,
    }
    misplaced = {key for key, wrong in wrong_type.items() if key in f and wrong}
    for key in sorted(misplaced):
        rep.add(f[key][0].pos, f"{key}: does not work with type: {vtype}", f"remove {key}:, or change the type")
    for key in [
        k for k in ("map", "multiply", "default", "parse") if k in f and k not in misplaced and "from" not in f
    ]:
        misplaced.add(key)
        hint = f"add from: <deal property>, or remove {key}:"
        rep.add(f[key][0].pos, f"{key}: works on the from: property, and this override has no from:", hint)
    return misplaced


def _values(rule: OverrideRule, f: Fields, item: Map, rep: Report) -> OverrideRule:
    """Check that from/value/map/multiply/default/trait fit each other and the type; fill the values."""
    vtype, has_value = rule.value_type, "value" in f
    if "from" in f and has_value:
        hint = "from: reads a deal property; value: is a constant"
        rep.add(f["value"][0].pos, "give from: or value:, not both", hint)
    misplaced = _misplaced(vtype, f, rep)
    if vtype is ValueType.TRAIT and "trait" in f:
        for key in [k for k in ("from", "value") if k in f]:
            rep.add(f[key][0].pos, f"trait: already names the trait; remove {key}:", "give trait: or from:/value:")
        return replace(rule, constant=rule.trait)  # the trait id is this rule's constant value
    if vtype is not ValueType.UNLIMITED and f.lacks("from") and f.lacks("value"):
        hint = f"for example from: seats_purchased, or value: {'true' if vtype is ValueType.BOOLEAN else '50'}"
        rep.add(item.pos, "this override needs from: (a deal property) or value: (a constant)", hint)
    scale = rule.multiply is not None
    lookup = _lookup(f["map"], vtype, scale, rep) if "map" in f and "map" not in misplaced else None
    default = text(f["default"][1]) if "default" in f else None
    if default is not None and lookup is not None and default.strip().lower() not in lookup:
        hint = f"default: is looked up in map: like a deal value; use one of {', '.join(lookup)}"
        rep.add(at(f["default"]), f"default: {describe(f['default'][1])} is not one of the map: keys", hint)
    elif "default" in f and "map" not in f and "default" not in misplaced:
        default = _typed(vtype, f["default"], rep, whole=not scale)
    constant = _typed(vtype, f["value"], rep) if has_value else None
    return replace(
        rule,
        constant="unlimited" if vtype is ValueType.UNLIMITED else constant,
        default=default,
        lookup=MappingProxyType(lookup) if lookup is not None else None,
    )


def _typed(vtype: ValueType, fld: Field, rep: Report, *, whole: bool = True, in_map: bool = False) -> str | None:
    """A value normalised for its type ('true', '50', 'unlimited', a trait); reported when it does not fit."""
    key, node = fld
    word = (text(node) or "").strip()
    unlimited = word.lower() == "unlimited"
    number = decimal(node)
    integral = number is not None and number == number.to_integral_value()
    if vtype is ValueType.BOOLEAN:
        typed = boolean(node)
    elif vtype is ValueType.UNLIMITED or (in_map and unlimited):
        typed = "unlimited" if unlimited else None
    elif vtype is ValueType.TRAIT:
        typed = word or None
    elif number is None or number < 0 or (whole and not integral):
        typed = None
    elif number > MAX_INT64:  # a 100,000-digit limit: located here, not an internal error
        rep.add(at(fld), f"{key.text}: {describe(node)} is too large", f"limits go up to {MAX_INT64:,}")
        return None
    else:
        typed = str(int(number)) if integral else format(number, "f")
    if typed is None:
        want = WANT[vtype] + (" or 'unlimited'" if in_map and vtype is ValueType.NUMERIC else "")
        hint = "for no limit, use type: unlimited" if unlimited and not in_map else f"type: {vtype} takes {want}"
        rep.add(at(fld), f"{key.text}: {describe(node)} is not {want}", hint)
    return typed


def _lookup(fld: Field, vtype: ValueType, scale: bool, rep: Report) -> dict[str, str] | None:
    """`map:` as raw deal value (trimmed, lower case) → value for the type."""
    node = fld[1]
    if not isinstance(node, Map) or not node.pairs:
        hint = "for example map: {gold: 100, silver: 50}"
        rep.add(at(fld), f"map: must list deal values and what they become, not {describe(node)}", hint)
        return None
    out: dict[str, str] = {}
    lines: dict[str, int] = {}
    before = len(rep.problems)
    for key, value in node.pairs:
        raw = (text(key) or "").strip().lower()
        if not isinstance(key, Scalar) or not raw:
            rep.add(key.pos, f"map: {describe(key)} cannot be a key", "keys are the deal values to look up")
            continue
        if raw in lines:
            hint = "keys ignore case and surrounding blanks; keep one"
            rep.add(key.pos, f"map: '{raw}' is listed twice (first at line {lines[raw]})", hint)
        lines.setdefault(raw, key.pos.line)
        out[raw] = _typed(vtype, (replace(key, text=f"map: {raw}"), value), rep, whole=not scale, in_map=True) or ""
    return out if len(rep.problems) == before else None


def _number(fld: Field | None, rep: Report, *, whole: bool) -> Decimal | None:
    """`expires_after_days:` (a whole number, 1 or more) or `multiply:` (a number above 0)."""
    number = decimal(fld[1]) if fld else None
    if fld is None or (number is not None and number > 0 and (not whole or number == number.to_integral_value())):
        return number
    what, example = ("a whole number, 1 or more", 365) if whole else ("a number above 0", 1000)
    rep.add(at(fld), f"{fld[0].text}: {describe(fld[1])} is not {what}", f"for example {fld[0].text}: {example}")
    return None


MAX_DAYS = 36_500  # a hundred years: longer is a typo, and dates past 9999 cannot be written


def _days(fld: Field | None, rep: Report) -> int | None:
    """`expires_after_days:` as an int, at most MAX_DAYS."""
    number = _number(fld, rep, whole=True)
    if fld is not None and number is not None and number > MAX_DAYS:
        rep.add(
            at(fld),
            f"{fld[0].text}: {describe(fld[1])} days is more than {MAX_DAYS:,} (a hundred years)",
            "for a contract without an end, leave out expires_after_days",
        )
        return None
    return int(number) if number is not None else None


def _combinations(f: Fields, rule: OverrideRule, rep: Report) -> None:
    """Settings that are fine alone but not together."""
    if "expires_from" in f and "expires_after_days" in f:
        hint = "expires_from: reads a date from the deal; expires_after_days: counts from the close date"
        rep.add(f["expires_after_days"][0].pos, "give expires_from: or expires_after_days:, not both", hint)
    period_unreadable = "metric_period" in f and rule.metric_period is None
    if rule.month_reset and rule.metric_period is not MetricPeriod.CURRENT_MONTH and not period_unreadable:
        hint = "add metric_period: current_month, or remove metric_period_month_reset:"
        rep.add(f["metric_period_month_reset"][0].pos, "metric_period_month_reset: needs current_month", hint)
    if "type" in f and rule.value_type is ValueType.BOOLEAN and "metric_period" in f:
        hint = "metric_period: sets the usage window of a limit; remove it"
        rep.add(f["metric_period"][0].pos, "metric_period: does not work with type: boolean", hint)


def conditions(fld: Field, rep: Report) -> tuple[Condition, ...]:
    """`when:` — every property test a deal must pass."""
    node = fld[1]
    if not isinstance(node, Map) or not node.pairs:
        hint = "for example when: {plan: enterprise}"
        rep.add(at(fld), f"when: must list deal properties and what they must be, not {describe(node)}", hint)
        return ()
    out: list[Condition] = []
    for prop, (key, value) in fields(node, None, "under when:", rep).items():
        out.extend(_condition(prop, key, value, rep))
    return tuple(out)


def _condition(prop: str, key: Scalar, value: Node, rep: Report) -> list[Condition]:
    """The tests written for one property: a value, a list of values, or operators."""
    if isinstance(value, Map):
        ops = fields(value, (*OPERATORS, "present", "absent"), f"under when: {prop}", rep)
        if not value.pairs:
            rep.add(key.pos, f"when: {prop} has an empty test", WHEN_HINT)
        tests = [_operator(prop, op, fld, key.pos, rep) for op, fld in ops.items()]
        return [t for t in tests if t is not None]
    if isinstance(value, Seq):
        words = [text(item) for item in value.items]
        for item, word in zip(value.items, words, strict=True):
            if word is None:
                rep.add(item.pos, f"when: {prop} lists {describe(item)}, which is not a value", WHEN_HINT)
        if not value.items:
            rep.add(key.pos, f"when: {prop} has an empty list, so no deal would match", WHEN_HINT)
        return [Condition(prop, Op.ANY_OF, tuple(w for w in words if w is not None), position=key.pos)]
    word = text(value)
    if word is None:
        rep.add(key.pos, f"when: {prop} has no value", WHEN_HINT)
        return []
    return [Condition(prop, Op.EQ, (word,), position=key.pos)]


def _operator(prop: str, op: str, fld: Field, pos: Position, rep: Report) -> Condition | None:
    """One `{operator: operand}` test."""
    if op in OPERATORS:
        number = decimal(fld[1])
        if number is None:
            hint = f"for example {prop}: {{'{op}': 10}}"
            rep.add(at(fld), f"'{op}' in when: {prop} needs a number, not {describe(fld[1])}", hint)
            return None
        return Condition(prop, OPERATORS[op], number=number, position=pos)
    flag = boolean(fld[1])
    if flag is None:
        rep.add(at(fld), f"{op}: in when: {prop} needs true or false, not {describe(fld[1])}", f"write {op}: true")
        return None
    present = (flag == "true") == (op == "present")
    return Condition(prop, Op.PRESENT if present else Op.ABSENT, position=pos)
