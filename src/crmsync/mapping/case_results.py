"""Mapping tests: the cases RevOps write, and how one compares with what the real code gave. Pure.

`cases.py` reads case files into the types here; `service/case_runner.py` runs each case through
the real translate and combine and calls `compare`; `crmsync test` renders the `CaseResult`s.
Offline: a rule's `feature:` text is the feature's
id (or the name an optional `features:` alias table gives it), and each company key is its
own company unless a `companies:` table groups keys of one company.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import PurePath

from crmsync.domain import (
    TIME_FORMAT,
    CompanyId,
    CompanyKey,
    Deal,
    DealProblem,
    FeatureId,
    MonthReset,
    OverrideValue,
    Source,
    ValueType,
)
from crmsync.mapping.rules import DealFilter, MappingFile, Mappings, Position
from crmsync.mapping.translate import Translation, deal_counts
from crmsync.mapping.values import month_reset


@dataclass(frozen=True)
class ExpectedOverride:
    """An override a case expects: company (a key or a `companies:` name), feature as written, value."""

    company: str
    feature: str
    value: OverrideValue
    position: Position


@dataclass(frozen=True)
class ExpectedError:
    """A deal error a case expects: the deal, and optionally the feature and part of the message."""

    deal: str
    position: Position
    feature: str | None = None
    message: str | None = None

    def matches(self, problem: DealProblem) -> bool:
        """Whether a translation problem is this error."""
        return (
            problem.deal_id == self.deal
            and (self.feature is None or (problem.rule is not None and problem.rule.feature == self.feature))
            and (self.message is None or self.message.lower() in problem.message.lower())
        )

    def __str__(self) -> str:
        about = f" for feature {self.feature!r}" if self.feature else ""
        says = f" saying {self.message!r}" if self.message else ""
        return f"deal {self.deal}{about}{says}"


@dataclass(frozen=True)
class Case:
    """One test case: deals in, the overrides (and deal errors) they must give at `now`."""

    name: str
    position: Position
    now: datetime
    deals: tuple[Deal, ...]
    overrides: tuple[ExpectedOverride, ...]
    errors: tuple[ExpectedError, ...] = ()


@dataclass(frozen=True)
class CaseFile:
    """A file of cases, with its offline feature aliases and company groups."""

    path: str
    cases: tuple[Case, ...]
    features: Mapping[str, str] = field(default_factory=dict)  # text in a rule → feature name used in cases
    companies: Mapping[CompanyKey, str] = field(default_factory=dict)  # key → company name used in cases


@dataclass(frozen=True)
class CaseResult:
    """How one case went: `diff` is empty when it passed; `notes` say why deals gave nothing."""

    case: Case
    diff: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """True when got equals expected."""
        return not self.diff


Row = tuple[str, str]  # (company, feature)

# A case deal's fields under the names the connectors give them as properties (hubspot_convert.deal,
# salesforce_soql.to_deal), so `when: {pipeline: enterprise}` holds in `test` as it does in `plan`.
READ_AS = {
    Source.HUBSPOT: {"stage": "dealstage", "pipeline": "pipeline", "close_date": "closedate", "name": "dealname"},
    Source.SALESFORCE: {
        "stage": "StageName", "pipeline": "RecordType.DeveloperName", "close_date": "CloseDate",
        "name": "Name", "company": "AccountId",
    },
}  # fmt: skip


def as_read(deal: Deal) -> tuple[Deal, list[str]]:
    """A case's deal as a connector hands it to translate: its stage, pipeline (record type), close date,
    name (and Salesforce's AccountId) are properties too. Also the fields whose `properties:` entry
    says otherwise (one CRM field given two values: a mistake in the case)."""
    close = deal.close_date
    fields = {
        "stage": deal.stage,
        "pipeline": deal.pipeline,
        "close_date": (close.strftime(TIME_FORMAT) if deal.source is Source.HUBSPOT else close.date().isoformat())
        if close
        else None,
        "name": deal.name,
        "company": deal.company_ref,
    }
    names = READ_AS[deal.source]
    props = dict(deal.properties)
    clashes = []
    for key, prop in names.items():
        value = fields[key]
        if value is None:
            continue
        if prop in props and props[prop] != value and key != "close_date":  # a date may be written either way
            clashes.append(f"{key}: {value!r} and properties: {prop}: {props[prop]!r} are one CRM field")
        props.setdefault(prop, value)
    return replace(deal, properties=props), clashes


def filtered_notes(deals: Iterable[Deal], files: Iterable[MappingFile]) -> tuple[str, ...]:
    """Why each deal no file of its CRM counts gives nothing (the filters `plan` applies too)."""
    files = list(files)
    notes: list[str] = []
    for deal in deals:
        mine = [f for f in files if f.source is deal.source]
        if any(deal_counts(deal, f.deals) for f in mine):
            continue
        why = "; ".join(f"{_filtered(deal, f.deals)} ({PurePath(f.path).name})" for f in mine)
        notes.append(f"deal {deal.id} is not counted: {why or f'no mapping file reads {deal.source.value}'}")
    return tuple(notes)


def _filtered(deal: Deal, flt: DealFilter) -> str:
    """Which of a filter's lists leaves a deal out."""
    if deal.stage.casefold() not in flt.folded_stages:
        return f"stage '{deal.stage}' is not in stages: [{', '.join(flt.stages)}]"
    word, allowed = ("pipeline", flt.pipelines) if deal.source is Source.HUBSPOT else ("record type", flt.record_types)
    key = "pipelines" if deal.source is Source.HUBSPOT else "record_types"
    return f"{word} '{deal.pipeline or ''}' is not in {key}: [{', '.join(allowed or ())}]"


def offline_features(mappings: Mappings, cases: CaseFile) -> dict[str, FeatureId]:
    """Each rule's `feature:` text → an offline feature id: its alias target, else the text itself."""
    texts = {r.feature for f in mappings.files for r in f.overrides}
    return {text: FeatureId(cases.features.get(text, text)) for text in texts}


def offline_companies(keys: Iterable[CompanyKey], cases: CaseFile) -> dict[CompanyKey, CompanyId]:
    """Each company key → an offline company id: its `companies:` name, else `key=value`."""
    return {k: CompanyId(cases.companies.get(k, str(k))) for k in keys}


def compare(
    case: Case, cases: CaseFile, translation: Translation, got: Mapping[tuple[CompanyId, FeatureId], OverrideValue]
) -> CaseResult:
    """What a case expects against what translate and combine gave (by offline company and feature)."""
    have = {(str(c), str(f)): value for (c, f), value in got.items()}
    expected = {(_company(e.company, cases), cases.features.get(e.feature, e.feature)): e.value for e in case.overrides}
    lines = [*_override_diff(expected, have), *_error_diff(case.errors, translation.problems)]
    short = {row[1] for row, value in expected.items() if have.get(row) != normal(value)}  # missing or different
    return CaseResult(case, tuple(lines), _notes(translation, short, cases))


def _company(text: str, cases: CaseFile) -> str:
    """A company as cases name it: a `companies:` name, else the `key=value` text itself."""
    name, sep, value = text.partition("=")
    key = CompanyKey(name.strip(), value.strip())
    return cases.companies.get(key, str(key)) if sep else text.strip()


def _override_diff(expected: Mapping[Row, OverrideValue], got: Mapping[Row, OverrideValue]) -> list[str]:
    """`~` a different value, `-` an expected override that did not come, `+` one not expected."""
    lines: list[str] = []
    for row in sorted(expected.keys() | got.keys()):
        want, have = expected.get(row), got.get(row)
        where = f"{row[0]} / {row[1]}"
        if want is not None and have is None:
            lines.append(f"- {where}: expected {show(want)}, got no override")
        elif want is None and have is not None:
            lines.append(f"+ {where}: got {show(have)}, not expected")
        elif want is not None and have is not None and normal(want) != have:
            lines.append(f"~ {where}: expected {show(want)}, got {show(have)}")
    return lines


def _error_diff(expected: tuple[ExpectedError, ...], problems: tuple[DealProblem, ...]) -> list[str]:
    """Expected deal errors that did not happen, and errors nobody expected."""
    left = list(problems)
    lines: list[str] = []
    for error in expected:
        hit = next((p for p in left if error.matches(p)), None)
        if hit is None:
            lines.append(f"- expected an error for {error}, got none")
        else:
            left.remove(hit)
    lines.extend(f"+ error not expected: {_problem(p)}" for p in left)
    return lines


def _notes(translation: Translation, features: set[str], cases: CaseFile) -> tuple[str, ...]:
    """Why counted deals gave nothing for the features whose expected override is missing or different."""
    skipped = [s for s in translation.skipped if cases.features.get(s.rule.feature, s.rule.feature) in features]
    return tuple(f"deal {s.deal_id} gave '{s.rule.feature}' ({_where(s.rule.path, s.rule.line)}) nothing: {s.reason}"
                 for s in skipped)  # fmt: skip


def _problem(problem: DealProblem) -> str:
    rule = problem.rule
    where = f" ({_where(rule.path, rule.line)}, feature '{rule.feature}')" if rule else ""
    return f"deal {problem.deal_id}: {problem.message}{where}"


def _where(path: str, line: int) -> str:
    return f"{PurePath(path).name}:{line}"


def normal(value: OverrideValue) -> OverrideValue:
    """An expected value as translate would make it: monthly windows reset on the 1st by default."""
    return replace(value, month_reset=month_reset(value.metric_period, value.month_reset))


def show(value: OverrideValue) -> str:
    """A value in the words of a case file: `numeric 50 per current_month, expires 2027-12-31T23:59:59Z`."""
    if value.value_type is ValueType.BOOLEAN:
        text = f"boolean {str(bool(value.value_bool)).lower()}"
    elif value.value_type is ValueType.NUMERIC:
        text = f"numeric {value.value_numeric}"
    elif value.value_type is ValueType.TRAIT:
        text = f"trait {value.value_trait_id}"
    else:
        text = value.value_type.value
    if value.metric_period is not None:
        text += f" per {value.metric_period.value}"
    if value.month_reset is MonthReset.BILLING_CYCLE:
        text += " (billing cycle)"
    if value.expiration is not None:
        text += f", expires {value.expiration.strftime(TIME_FORMAT)}"
    return text
