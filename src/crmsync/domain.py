"""Frozen value types shared by every layer: deals, overrides, changes.

Nothing here does I/O or reads the clock. Connectors build `Deal`s, the mapping
translates them into `Contribution`s, the reconciler combines those into
`DesiredOverride`s and diffs them against `LiveOverride`s into `Change`s.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import PurePath
from typing import NamedTuple, NewType

from crmsync.gc_pause import gc_paused as gc_paused  # the names callers import from here
from crmsync.states import LedgerState as LedgerState
from crmsync.states import RunStatus as RunStatus
from crmsync.states import Trigger as Trigger

CompanyId = NewType("CompanyId", str)  # Schematic "comp_…"
FeatureId = NewType("FeatureId", str)  # Schematic "feat_…"
OverrideId = NewType("OverrideId", str)  # Schematic "cmov_…"
DealId = NewType("DealId", str)  # HubSpot deal id or Salesforce Opportunity Id

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # a UTC instant to the second, as Schematic, plan files and case files write it


class Source(StrEnum):
    """A CRM that crmsync reads deals from."""

    HUBSPOT = "hubspot"
    SALESFORCE = "salesforce"


class ValueType(StrEnum):
    """Schematic's override value types (crmsync writes the first four)."""

    BOOLEAN = "boolean"
    NUMERIC = "numeric"
    UNLIMITED = "unlimited"
    TRAIT = "trait"
    CREDIT = "credit"  # read only: crmsync never writes credit overrides
    UNKNOWN = "unknown"  # read only: Schematic's sentinel


class MetricPeriod(StrEnum):
    """The usage window of an event feature's numeric limit."""

    ALL_TIME = "all_time"
    CURRENT_DAY = "current_day"
    CURRENT_WEEK = "current_week"
    CURRENT_MONTH = "current_month"


class MonthReset(StrEnum):
    """When a `current_month` window starts."""

    FIRST_OF_MONTH = "first_of_month"
    BILLING_CYCLE = "billing_cycle"


class Combine(StrEnum):
    """How several deals for one company and feature become one override."""

    MAX = "max"
    SUM = "sum"
    LATEST = "latest"
    MIN = "min"


class DriftPolicy(StrEnum):
    """What a mapping says to do when an owned override was changed by hand (`drift:`)."""

    OVERWRITE = "overwrite"  # restore the deals' value (re-create a deleted override)
    KEEP = "keep"  # respect the edit; a deleted override is released
    FAIL = "fail"  # apply refuses until someone decides

    @staticmethod
    def strictest(policies: Iterable[DriftPolicy]) -> DriftPolicy:
        """Of several rules behind one override, the most cautious policy (fail > keep > overwrite)."""
        order = (DriftPolicy.FAIL, DriftPolicy.KEEP, DriftPolicy.OVERWRITE)
        found = set(policies)
        return next((p for p in order if p in found), DriftPolicy.OVERWRITE)


@dataclass(frozen=True, slots=True)
class CompanyKey:
    """A Schematic company key and its value, e.g. hubspot_company_id=5001."""

    name: str
    value: str

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


@dataclass(frozen=True, slots=True)
class Deal:
    """A CRM deal as a connector read it; every property value is the CRM's raw string."""

    source: Source
    id: DealId
    company_ref: str | None  # the CRM's company id (HubSpot company id, Salesforce AccountId)
    stage: str
    pipeline: str | None
    close_date: datetime | None
    modified_at: datetime | None
    properties: Mapping[str, str | None] = field(default_factory=dict)
    name: str | None = None

    def ref(self) -> DealRef:
        """What a plan keeps of this deal once it is translated (its properties are dropped)."""
        company = sys.intern(self.company_ref) if self.company_ref is not None else None
        stage = sys.intern(self.stage)
        return DealRef(self.source, self.id, company, stage, self.close_date, self.name, (self.source, self.id))

    @property
    def key(self) -> tuple[Source, DealId]:
        """(source, id): who the deal is across CRMs."""
        return (self.source, self.id)


class DealRef(NamedTuple):
    """A translated deal as the plan, `explain` and saved plans need it: who it is, its company, stage,
    name and close date; not its properties (the values it gave are in its contributions). Small and
    cheap to build (a named tuple: a frozen dataclass costs several times more to build): tens of
    thousands live as long as a plan does."""

    source: Source
    id: DealId
    company_ref: str | None
    stage: str
    close_date: datetime | None
    name: str | None
    key: tuple[Source, DealId]  # (source, id), built once: the provenance of each override shares it


@dataclass(frozen=True, slots=True)
class OverrideValue:
    """What an override grants: the fields Schematic compares and enforces."""

    value_type: ValueType
    value_bool: bool | None = None
    value_numeric: int | None = None
    value_trait_id: str | None = None
    metric_period: MetricPeriod | None = None
    month_reset: MonthReset | None = None
    expiration: datetime | None = None

    def describe(self) -> str:
        """A short human rendering, e.g. `50 /current_month until 2027-01-31`."""
        if self.value_type is ValueType.BOOLEAN:
            text = "on" if self.value_bool else "off"
        elif self.value_type is ValueType.UNLIMITED:
            text = "unlimited"
        elif self.value_type is ValueType.TRAIT:
            text = f"trait {self.value_trait_id}"
        else:
            text = str(self.value_numeric)
        if self.metric_period is not None:
            text += f" /{self.metric_period.value}"
        if self.expiration is not None:
            text += f" until {self.expiration.strftime('%Y-%m-%d %H:%M')}Z"
        return text


@dataclass(frozen=True)
class RuleRef:
    """Where a mapping rule was written: file, line, and the feature it names."""

    path: str
    line: int
    feature: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"

    def shown(self, root: str | None = None) -> str:
        """`file:line` for people, never the install path: a path given relative (to the current
        directory) or a `REF:path` as it is; an absolute one relative to `root` (the current directory)
        when under it, else to the mappings folder (the file's name). `str()` keeps the full path (--json)."""
        path = PurePath(self.path)
        if path.is_absolute() or ".." in path.parts:
            path = path.relative_to(root) if root and path.is_relative_to(root) else PurePath(path.name)
        return f"{path.as_posix()}:{self.line}"


class Contribution(NamedTuple):
    """One deal's share in one override, before deals for a company are combined (a named tuple, as
    `DealRef`: one is built per deal and rule)."""

    company: CompanyKey
    feature_id: FeatureId
    value: OverrideValue
    combine: Combine
    deal: DealRef
    rule: RuleRef


@dataclass(frozen=True)
class DealProblem:
    """A deal whose value could not become an override; reported, never fatal."""

    source: Source
    deal_id: DealId
    message: str
    rule: RuleRef | None = None

    def __str__(self) -> str:
        return self.describe()

    def describe(self, root: str | None = None) -> str:
        """One line for people; the rule's file as `RuleRef.shown(root)` says (relative, never absolute)."""
        where = f" (rule {self.rule.shown(root)}, feature {self.rule.feature!r})" if self.rule else ""
        noun = "opportunity" if self.source is Source.SALESFORCE else "deal"
        return f"{self.source.value} {noun} {self.deal_id}: {self.message}{where}"


@dataclass(frozen=True, slots=True)
class Provenance:
    """Which deals and rules produced a desired override."""

    deals: tuple[tuple[Source, DealId], ...]
    rules: tuple[RuleRef, ...]


@dataclass(frozen=True, slots=True)
class DesiredOverride:
    """The override a company should have for a feature, with where it comes from."""

    company_id: CompanyId
    feature_id: FeatureId
    value: OverrideValue
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class LiveOverride:
    """An override as Schematic returns it."""

    id: OverrideId
    company_id: CompanyId
    feature_id: FeatureId
    value: OverrideValue
    notes: tuple[str, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Company:
    """A Schematic company with its keys (name → value), its base plan and add-on plans."""

    id: CompanyId
    name: str
    keys: Mapping[str, str] = field(default_factory=dict)
    plan_version_id: str | None = None  # `plan.plan_version_id`; None when on no plan or a plan without version
    plan_name: str | None = None  # `plan.name`; None when on no plan
    add_on_version_ids: tuple[str, ...] = ()  # `add_ons[].plan_version_id` (those that have one)


@dataclass(frozen=True)
class Feature:
    """A Schematic feature, with its flag key when it has one."""

    id: FeatureId
    name: str
    feature_type: str  # boolean | event | trait | license
    flag_key: str | None = None


class Action(StrEnum):
    """What a change does to Schematic, in the order a plan applies them."""

    DELETE = "delete"
    CREATE = "create"
    UPDATE = "update"


@dataclass(frozen=True, slots=True)
class Change:
    """One write to Schematic: `before` is the live override (none for a create), `after`
    the desired one (none for a delete)."""

    action: Action
    company_id: CompanyId
    feature_id: FeatureId
    before: LiveOverride | None
    after: DesiredOverride | None
    reason: str


@dataclass(frozen=True)
class Conflict:
    """An override crmsync did not create stands where a desired one should be; untouched."""

    company_id: CompanyId
    feature_id: FeatureId
    live: LiveOverride
    desired: DesiredOverride


@dataclass(frozen=True)
class Pending:
    """A company key with no Schematic company yet: retried next run, not an error."""

    company: CompanyKey
    deals: tuple[tuple[Source, DealId], ...]
