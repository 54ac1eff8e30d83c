"""Plan-entitlement warnings: planned overrides that the company's plan makes pointless. Pure.

Schematic applies the most generous of a numeric override and the plan entitlement, but a
boolean override always wins, `false` included. So an override below the plan has no effect,
one equal to it changes nothing, and `false` revokes a feature the plan grants. The service
fetches each plan version's entitlements once and calls `entitlement_warnings`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from fractions import Fraction

from crmsync.domain import Action, Change, CompanyId, FeatureId, MetricPeriod, OverrideValue, ValueType

# How many days one window holds, to compare limits per day (Schematic's entitlement_effectiveness.go).
DAYS = {MetricPeriod.CURRENT_DAY: 1, MetricPeriod.CURRENT_WEEK: 7, MetricPeriod.CURRENT_MONTH: 30}
LIMITS = frozenset({ValueType.NUMERIC, ValueType.UNLIMITED})


@dataclass(frozen=True)
class PlanEntitlements:
    """What one plan version grants, by feature (as `GET /plan-entitlements` returns it)."""

    plan_version_id: str
    plan_name: str  # the plan's name, or the version id when Schematic did not say
    values: Mapping[FeatureId, OverrideValue] = field(default_factory=dict)


def is_more_generous(a: OverrideValue, b: OverrideValue) -> bool:
    """Whether limit `a` grants strictly more than limit `b` (Schematic's IsAllocationMoreGenerous).

    Unlimited beats any number; without periods the higher number wins; when only one side
    has a period, that side wins; otherwise limits compare per day (a day's limit as is, a week's
    divided by 7, a month's by 30), or raw when either is `all_time`. Equal is not more generous.
    """
    if b.value_type is ValueType.UNLIMITED:
        return False
    if a.value_type is ValueType.UNLIMITED:
        return True
    x, y = a.value_numeric or 0, b.value_numeric or 0
    pa, pb = a.metric_period, b.metric_period
    if pa is None or pb is None:
        return x > y if pa is None and pb is None else pa is not None
    if MetricPeriod.ALL_TIME in (pa, pb):
        return x > y
    return Fraction(x, DAYS[pa]) > Fraction(y, DAYS[pb])


def entitlement_warnings(
    changes: Iterable[Change],
    plan_versions: Mapping[CompanyId, str | None],
    entitlements: Mapping[str, PlanEntitlements],
    names: Mapping[str, str] | None = None,
) -> tuple[str, ...]:
    """One warning per planned create or update that its company's plan entitlement outvotes,
    equals, or (a `false` boolean) revokes; in the changes' order."""
    warnings: list[str] = []
    for change in changes:
        plan = entitlements.get(plan_versions.get(change.company_id) or "")
        if change.action is Action.DELETE or change.after is None or plan is None:
            continue
        granted = plan.values.get(change.feature_id)
        verdict = judge(change.after.value, granted) if granted is not None else None
        if granted is not None and verdict is not None:
            warnings.append(_say(verdict, change, change.after.value, granted, plan.plan_name, names or {}))
    return tuple(warnings)


def _say(
    verdict: Verdict, change: Change, mine: OverrideValue, granted: OverrideValue, plan: str, names: Mapping[str, str]
) -> str:
    """One warning in words, naming company, feature, both values and the plan."""
    company, feature = names.get(change.company_id, change.company_id), names.get(change.feature_id, change.feature_id)
    age = "new" if change.action is Action.CREATE else "updated"
    head, theirs = f"{company} / {feature}: the {age} override ({describe(mine)})", describe(granted)
    if verdict is Verdict.INEFFECTIVE:
        return (
            f"{head} is less generous than plan {plan}'s {theirs}; Schematic applies the most generous, "
            f"so it has no effect while {company} is on {plan}"
        )
    if verdict is Verdict.REVOKES:
        return f"{head} revokes {feature}, which plan {plan} grants ({theirs}); a boolean override always wins"
    return f"{head} grants the same as plan {plan}'s {theirs}, so it changes nothing"


class Verdict(StrEnum):
    """What a plan entitlement makes of an override."""

    INEFFECTIVE = "ineffective"  # a limit the plan's limit outvotes
    NO_OP = "no-op"  # grants exactly what the plan grants
    REVOKES = "revokes"  # `false` for a feature the plan turns on


def judge(override: OverrideValue, plan: OverrideValue) -> Verdict | None:
    """What the plan's entitlement makes of an override, or None when the override matters."""
    if override.value_type is ValueType.BOOLEAN and plan.value_type is ValueType.BOOLEAN:
        if override.value_bool == plan.value_bool:
            return Verdict.NO_OP
        return None if override.value_bool else Verdict.REVOKES
    if override.value_type not in LIMITS or plan.value_type not in LIMITS:
        return None
    if is_more_generous(plan, override):
        return Verdict.INEFFECTIVE
    return None if is_more_generous(override, plan) else Verdict.NO_OP


def describe(value: OverrideValue) -> str:
    """A limit or switch in words, without its expiry: `20`, `10000 /current_month`, `unlimited`, `on`."""
    return replace(value, expiration=None).describe()
