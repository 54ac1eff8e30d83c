"""Reads mapping test cases (`mappings/tests/*.yaml`) into `case_results.CaseFile`s, every problem at once.

`crmsync test` calls `load_cases`. YAML comes through `loader.read_yaml` (positions kept,
ruamel stays there); the readers of `schema` check each key. A malformed file raises
`MappingError` with located problems, like a malformed mapping file.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from crmsync.domain import CompanyKey, Deal, DealId, MetricPeriod, MonthReset, OverrideValue, Source, ValueType
from crmsync.errors import MappingError, Problem
from crmsync.mapping import nodes, schema
from crmsync.mapping.case_results import Case, CaseFile, ExpectedError, ExpectedOverride, as_read
from crmsync.mapping.loader import read_capped, read_yaml, yaml_files
from crmsync.mapping.nodes import Field, Map, Node, Report, Scalar, Seq
from crmsync.mapping.rules import Position
from crmsync.mapping.values import BadValue, parse_bool, parse_instant, parse_whole

TOP_KEYS = ("source", "now", "features", "companies", "cases")
CASE_KEYS = ("name", "now", "deals", "expect")
DEAL_KEYS = ("source", "id", "name", "company", "stage", "pipeline", "record_type", "close_date", "properties")
EXPECT_KEYS = ("overrides", "errors")
OVERRIDE_KEYS = ("company", "feature", "type", "value", "metric_period", "metric_period_month_reset", "expiration")
ERROR_KEYS = ("deal", "feature", "message")
SHAPE = "a case file needs cases: — a list of '- name: …' entries with deals: and expect:"


def load_cases(folder: Path | str, default_source: Source | None = None) -> tuple[CaseFile, ...]:
    """Every *.yaml / *.yml case file directly in `folder` (or the one file it names), in path order;
    all problems at once."""
    root = Path(folder)
    paths = [root] if root.is_file() else _listing(root)
    if not paths:
        hint = f"add one, e.g. {root / 'sample.yaml'}; {SHAPE}"
        raise MappingError([Problem(str(root), 1, 1, "no test case files (*.yaml or *.yml) here", hint)])
    files: list[CaseFile] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            files.append(load_case_text(read_capped(path), str(path), default_source))
        except MappingError as exc:
            problems.extend(exc.problems)
        except OSError as exc:
            problems.append(Problem(str(path), 1, 1, f"cannot read this file ({exc.strerror or exc})"))
    if problems:
        raise MappingError(problems)
    return tuple(files)


def _listing(folder: Path) -> list[Path]:
    """The case files in a folder; none when it is not a folder or cannot be listed."""
    try:
        return yaml_files(folder) if folder.is_dir() else []
    except OSError:
        return []


def load_case_text(text: str | bytes, path: str, default_source: Source | None = None) -> CaseFile:
    """One case file's content, reported as `path`; raises MappingError with every problem."""
    rep = Report()
    root = read_yaml(text, path, rep, SHAPE)
    result = _file(root, path, default_source, rep) if root is not None else None
    if result is None or rep.problems:
        raise MappingError(rep.problems or [Problem(path, 1, 1, "this file could not be read", SHAPE)])
    return result


def _file(root: Node, path: str, default: Source | None, rep: Report) -> CaseFile | None:
    """The whole file: a default `now`, alias tables, and the cases."""
    if not isinstance(root, Map):
        rep.add(root.pos, f"a case file must be 'key: value' settings, not {nodes.describe(root)}", SHAPE)
        return None
    f = nodes.fields(root, TOP_KEYS, "at the top level", rep)
    if f.lacks("cases"):
        rep.add(root.pos, "this file has no cases:", SHAPE)
    now = _instant(f.get("now"), rep)
    default = nodes.choice(f.get("source"), Source, rep) or default  # the file's, else the mappings' only CRM
    features = {alias: name for name, aliases in _groups(f.get("features"), rep).items() for alias, _ in aliases}
    companies: dict[CompanyKey, str] = {}
    for name, keys in _groups(f.get("companies"), rep).items():
        companies.update((key, name) for text, pos in keys if (key := _key(text, pos, rep)) is not None)
    cases = [c for item in _list(f.get("cases"), rep, "cases") if (c := _case(item, now, default, rep))]
    for o in (o for c in cases for o in c.overrides if "=" not in o.company and o.company not in companies.values()):
        hint = "write a company key, e.g. hubspot_company_id=5001, or a name listed under companies:"
        rep.add(o.position, f"company: '{o.company}' is neither a key=value nor a name under companies:", hint)
    return CaseFile(path, tuple(cases), features, companies)


def _groups(fld: Field | None, rep: Report) -> dict[str, list[tuple[str, Position]]]:
    """`features:` / `companies:` — a name → the texts that mean it (feature texts, company keys)."""
    if fld is None:
        return {}
    if not isinstance(fld[1], Map):
        hint = f"for example {fld[0].text}: {{seats: [feat_seats, Seats]}}"
        rep.add(nodes.at(fld), f"{fld[0].text}: must map a name to a list of aliases", hint)
        return {}
    out: dict[str, list[tuple[str, Position]]] = {}
    for name, pair in nodes.fields(fld[1], None, f"under {fld[0].text}:", rep).items():
        out[name] = [(alias, pair[1].pos) for alias in nodes.names(pair, rep, "[a, b]") or ()]
    return out


def _case(item: Node, now: datetime | None, default: Source | None, rep: Report) -> Case | None:
    """One `- name: …` entry."""
    if not isinstance(item, Map):
        rep.add(item.pos, f"each case must be a mapping with name:, deals: and expect:, not {nodes.describe(item)}")
        return None
    f = nodes.fields(item, CASE_KEYS, "in a case", rep)
    for key in ("name", "deals", "expect"):
        if f.lacks(key):
            rep.add(item.pos, f"this case has no {key}:", SHAPE)
    when = _instant(f.get("now"), rep) or now
    if when is None and f.lacks("now"):
        rep.add(item.pos, "this case has no now: (nor does the file)", "add now: 2026-11-21T12:00:00Z")
    deals = [_deal(d, default, rep) for d in _list(f.get("deals"), rep, "deals")]
    overrides, errors = _expect(f.get("expect"), rep)
    name = nodes.name(f.get("name"), rep, "a larger seat count wins")
    if name is None or when is None or None in deals:
        return None
    return Case(name, item.pos, when, tuple(d for d in deals if d is not None), overrides, errors)


def _deal(item: Node, default: Source | None, rep: Report) -> Deal | None:
    """One deal of a case: where it comes from, its stage and its properties."""
    if not isinstance(item, Map):
        rep.add(item.pos, f"each deal must be a mapping with id: and stage:, not {nodes.describe(item)}")
        return None
    f = nodes.fields(item, DEAL_KEYS, "in a deal", rep)
    for key in ("id", "stage"):
        if f.lacks(key):
            rep.add(item.pos, f"this deal has no {key}:", "for example id: 1001 and stage: closedwon")
    source = nodes.choice(f.get("source"), Source, rep) if "source" in f else default
    if source is None and f.lacks("source"):
        hint = "add source: hubspot or source: salesforce to the deal, or once at the top of the file"
        rep.add(item.pos, "this deal has no source:", hint)
    company = f.get("company")
    props = _properties(f.get("properties"), rep)
    deal_id, stage = nodes.name(f.get("id"), rep, "1001"), nodes.name(f.get("stage"), rep, "closedwon")
    if deal_id is None or stage is None or source is None or props is None:
        return None
    deal, clashes = as_read(Deal(
        source=source,
        id=DealId(deal_id),
        company_ref=nodes.text(company[1]) if company else None,
        stage=stage,
        pipeline=nodes.name(f.get("pipeline") or f.get("record_type"), rep),
        close_date=_instant(f.get("close_date"), rep),
        modified_at=None,
        properties=props,
        name=nodes.name(f.get("name"), rep),
    ))  # fmt: skip
    for clash in clashes:
        rep.add(item.pos, f"deal {deal_id}: {clash}", "give the value once, as the field (stage:, pipeline:, …)")
    return deal


def _properties(fld: Field | None, rep: Report) -> dict[str, str | None] | None:
    """A deal's properties as the CRM's raw text (`50`, `true`, `2027-12-31`); null is unset."""
    if fld is None:
        return {}
    if not isinstance(fld[1], Map):
        rep.add(nodes.at(fld), "properties: must map property names to values", "for example {seats_purchased: 50}")
        return None
    out: dict[str, str | None] = {}
    for prop, (_, value) in nodes.fields(fld[1], None, "under properties:", rep).items():
        if isinstance(value, Scalar):
            out[prop] = nodes.text(value)
        else:
            rep.add(value.pos, f"property {prop!r} must be one value, not {nodes.describe(value)}", "quote it")
    return out


def _expect(fld: Field | None, rep: Report) -> tuple[tuple[ExpectedOverride, ...], tuple[ExpectedError, ...]]:
    """`expect:` — the overrides (all of them) and the deal errors (all of them) the deals give."""
    if fld is None:
        return (), ()
    if not isinstance(fld[1], Map):
        rep.add(nodes.at(fld), "expect: must hold overrides: (and errors:)", "for example expect: {overrides: []}")
        return (), ()
    f = nodes.fields(fld[1], EXPECT_KEYS, "under expect:", rep)
    if f.lacks("overrides"):
        rep.add(fld[0].pos, "expect: has no overrides:", "list every override the deals give; [] for none")
    overrides = [o for o in map(lambda n: _override(n, rep), _list(f.get("overrides"), rep, "overrides")) if o]
    seen: dict[tuple[str, str], int] = {}
    for o in overrides:
        line = seen.setdefault((o.company, o.feature), o.position.line)
        if line != o.position.line:
            rep.add(o.position, f"{o.company} / {o.feature} is expected twice (first at line {line})", "keep one")
    errors = [e for e in map(lambda n: _error(n, rep), _list(f.get("errors"), rep, "errors")) if e]
    return tuple(overrides), tuple(errors)


def _override(item: Node, rep: Report) -> ExpectedOverride | None:
    """One expected override: company key, feature as written in the mapping, type and value."""
    if not isinstance(item, Map):
        rep.add(item.pos, f"each expected override must be a mapping, not {nodes.describe(item)}")
        return None
    before = len(rep.problems)
    f = nodes.fields(item, OVERRIDE_KEYS, "in an expected override", rep)
    for key, example in (("company", "hubspot_company_id=5001"), ("feature", "seats"), ("type", "numeric")):
        if f.lacks(key):
            rep.add(item.pos, f"this expected override has no {key}:", f"for example {key}: {example}")
    company, feature = nodes.name(f.get("company"), rep), nodes.name(f.get("feature"), rep)
    vtype = nodes.choice(f.get("type"), ValueType, rep)
    value = _value(vtype, f, item, rep) if vtype is not None else None
    if company is None or feature is None or value is None or len(rep.problems) > before:
        return None
    return ExpectedOverride(company.strip(), feature, value, item.pos)


def _value(vtype: ValueType, f: nodes.Fields, item: Map, rep: Report) -> OverrideValue | None:
    """The expected value, window and expiry for a type."""
    raw = nodes.text(f["value"][1]) if "value" in f else None
    if vtype is ValueType.UNLIMITED and "value" in f:
        rep.add(f["value"][0].pos, "type: unlimited takes no value:", "remove value:")
    elif vtype is not ValueType.UNLIMITED and raw is None:
        rep.add(nodes.at(f["value"]) if "value" in f else item.pos, f"type: {vtype} needs a value:", "e.g. value: 50")
        return None
    try:
        flag = parse_bool(raw) if vtype is ValueType.BOOLEAN and raw is not None else None
        number = parse_whole(raw) if vtype is ValueType.NUMERIC and raw is not None else None
    except BadValue as exc:
        rep.add(f["value"][1].pos, f"value: {exc}", f"type: {vtype} takes {schema.WANT.get(vtype, 'a value')}")
        return None
    return OverrideValue(
        value_type=vtype,
        value_bool=flag,
        value_numeric=number,
        value_trait_id=raw.strip() if vtype is ValueType.TRAIT and raw else None,
        metric_period=nodes.choice(f.get("metric_period"), MetricPeriod, rep),
        month_reset=nodes.choice(f.get("metric_period_month_reset"), MonthReset, rep),
        expiration=_instant(f.get("expiration"), rep, end_of_day=True),
    )


def _error(item: Node, rep: Report) -> ExpectedError | None:
    """One expected deal error: the deal id, optionally the feature and a part of the message."""
    if not isinstance(item, Map):
        rep.add(item.pos, f"each expected error must be a mapping with deal:, not {nodes.describe(item)}")
        return None
    f = nodes.fields(item, ERROR_KEYS, "in an expected error", rep)
    if f.lacks("deal"):
        rep.add(item.pos, "this expected error has no deal:", "for example deal: 1008")
    deal = nodes.name(f.get("deal"), rep, "1008")
    message = nodes.text(f["message"][1]) if "message" in f else None
    return ExpectedError(deal, item.pos, nodes.name(f.get("feature"), rep), message) if deal else None


def _list(fld: Field | None, rep: Report, what: str) -> list[Node]:
    """The items of a list (an empty list is fine: 'none')."""
    if fld is None or (isinstance(fld[1], Scalar) and fld[1].kind == "null"):
        return []
    if not isinstance(fld[1], Seq):
        rep.add(nodes.at(fld), f"{what}: must be a list, not {nodes.describe(fld[1])}", "start each item with '- '")
        return []
    return fld[1].items


def _instant(fld: Field | None, rep: Report, *, end_of_day: bool = False) -> datetime | None:
    """A date or date-time (a plain date is the start of the day, or its end for expirations)."""
    if fld is None:
        return None
    try:
        return parse_instant(nodes.text(fld[1]) or "", end_of_day=end_of_day)
    except BadValue as exc:
        rep.add(nodes.at(fld), f"{fld[0].text}: {exc}", "for example 2026-11-21 or 2026-11-21T12:00:00Z")
        return None


def _key(text: str, pos: Position, rep: Report) -> CompanyKey | None:
    """`hubspot_company_id=5001` as a CompanyKey."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        rep.add(pos, f"'{text}' is not a company key", "write key=value, e.g. hubspot_company_id=5001")
        return None
    return CompanyKey(name.strip(), value.strip())
