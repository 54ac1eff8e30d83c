"""The in-memory model of mapping files: what RevOps wrote, with where they wrote it.

`loader.py` builds these from YAML (the one YAML reader); `translate.py` applies them to
deals. Pure data: no I/O. Positions are 1-based line and column in the source file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from functools import cached_property

from crmsync.domain import Combine, DriftPolicy, MetricPeriod, MonthReset, RuleRef, Source, ValueType


@dataclass(frozen=True)
class Position:
    """Where a node starts in a mapping file (1-based)."""

    path: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


class Op(StrEnum):
    """How a `when` condition tests a deal property."""

    EQ = "eq"  # equal to one value (case-insensitive, trimmed)
    ANY_OF = "any_of"  # equal to any of several values
    GT = ">"
    GTE = ">="
    LT = "<"
    LTE = "<="
    PRESENT = "present"  # property set and not blank
    ABSENT = "absent"  # property missing or blank


@dataclass(frozen=True)
class Condition:
    """One test a deal must pass for a rule to apply."""

    prop: str
    op: Op
    values: tuple[str, ...] = ()  # for EQ / ANY_OF
    number: Decimal | None = None  # for comparisons
    position: Position | None = None

    @cached_property
    def matching(self) -> frozenset[str]:
        """The EQ / ANY_OF values as compared: trimmed, lower case (computed once, not per deal)."""
        return frozenset(v.strip().lower() for v in self.values)


@dataclass(frozen=True)
class OverrideRule:
    """One entry under `overrides:`: how deals become an override for one feature."""

    feature: str  # as written: feature id, flag key or exact name
    value_type: ValueType
    position: Position
    source_property: str | None = None  # `from`
    constant: str | None = None  # `value`, normalised to text ("true", "50", "unlimited")
    when: tuple[Condition, ...] = ()
    metric_period: MetricPeriod | None = None
    month_reset: MonthReset | None = None
    expires_from: str | None = None
    expires_after_days: int | None = None
    starts_from: str | None = None
    combine: Combine | None = None  # None: the file's policy
    multiply: Decimal | None = None
    default: str | None = None  # used when the `from` property is absent
    lookup: Mapping[str, str] | None = None  # `map:` raw value (trimmed, lower case) → value
    trait: str | None = None  # trait id (or name) for value_type trait
    drift: DriftPolicy | None = None  # None: the file's policy
    parse: str | None = None  # "text": read a text `from:` property's value as the type (said explicitly)
    # Where `from:`, `expires_from:`, `starts_from:` and `trait:` values are written, for the checks
    # against the CRM and Schematic (not part of what the rule means: no equality, no hash).
    places: Mapping[str, Position] = field(default_factory=dict, compare=False, repr=False)

    def ref(self) -> RuleRef:
        """The rule's provenance: file, line and feature."""
        return RuleRef(self.position.path, self.position.line, self.feature)

    def properties(self) -> tuple[str, ...]:
        """The deal properties this rule reads: `from`, `expires_from`, `starts_from` and its `when` tests."""
        named = (self.source_property, self.expires_from, self.starts_from)
        return (*(p for p in named if p), *(c.prop for c in self.when))


@dataclass(frozen=True)
class DealFilter:
    """Which deals (or opportunities) count."""

    stages: tuple[str, ...]
    pipelines: tuple[str, ...] | None = None  # None: any pipeline
    record_types: tuple[str, ...] | None = None  # Salesforce only; None: any
    # Where each name is written, keyed `stages`, `stages.0`, `pipelines.1`, `record_types` …
    places: Mapping[str, Position] = field(default_factory=dict, compare=False, repr=False)

    # Casefolded once per filter rather than once per deal (cached on first use; not fields, so
    # equality and hashing are unchanged).
    @cached_property
    def folded_stages(self) -> frozenset[str]:
        """`stages`, casefolded."""
        return frozenset(s.casefold() for s in self.stages)

    @cached_property
    def folded_pipelines(self) -> frozenset[str] | None:
        """`pipelines`, casefolded; None: any pipeline."""
        return None if self.pipelines is None else frozenset(p.casefold() for p in self.pipelines)

    @cached_property
    def folded_record_types(self) -> frozenset[str] | None:
        """`record_types`, casefolded; None: any record type."""
        return None if self.record_types is None else frozenset(r.casefold() for r in self.record_types)


@dataclass(frozen=True)
class MappingFile:
    """One mapping file: a source, a deal filter, a company key, and override rules."""

    path: str
    source: Source
    deals: DealFilter
    company_key: str
    overrides: tuple[OverrideRule, ...]
    combine: Combine = Combine.MAX
    drift: DriftPolicy = DriftPolicy.OVERWRITE
    on_conflict: str = "skip"
    position: Position | None = None
    company_position: Position | None = field(default=None, compare=False)  # where `company: key:` names it

    def policy_for(self, rule: OverrideRule) -> Combine:
        """The combine policy of a rule: its own, else the file's."""
        return rule.combine or self.combine

    def drift_for(self, rule: OverrideRule) -> DriftPolicy:
        """The drift policy of a rule: its own, else the file's."""
        return rule.drift or self.drift


@dataclass(frozen=True)
class Mappings:
    """Every mapping file of a run, in path order."""

    files: tuple[MappingFile, ...] = field(default_factory=tuple)

    def sources(self) -> tuple[Source, ...]:
        """The CRMs that at least one file reads, in a stable order."""
        return tuple(s for s in Source if any(f.source is s for f in self.files))

    def for_source(self, source: Source) -> tuple[MappingFile, ...]:
        """The files that read one CRM."""
        return tuple(f for f in self.files if f.source is source)

    def rules_using(self, source: Source, prop: str) -> tuple[OverrideRule, ...]:
        """The rules of one source that read a property (case-insensitively, as CRMs match names)."""
        wanted = prop.lower()
        return tuple(
            r for f in self.for_source(source) for r in f.overrides if wanted in {p.lower() for p in r.properties()}
        )

    def properties_for(self, source: Source) -> tuple[str, ...]:
        """Every deal property the rules of one source read, sorted."""
        return tuple(sorted({p for f in self.for_source(source) for r in f.overrides for p in r.properties()}))
