"""Plan-entitlement warnings: planned overrides that the company's plan makes pointless. Pure.

Schematic applies the most generous of a numeric override and the plan entitlement, but a
boolean override always wins, `false` included. So an override below the plan has no effect,
one equal to it changes nothing, and `false` revokes a feature the plan grants. The service
fetches each plan version's entitlements once, joins a company's base plan and add-ons
(`with_add_ons`), and calls `entitlement_warnings`; `unjudged` says which companies cannot be
compared with a plan at all (no plan, or a plan without version), so that silence is explained.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from fractions import Fraction

from crmsync.domain import Action, Change, Company, CompanyId, FeatureId, MetricPeriod, OverrideValue, ValueType

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


def with_add_ons(base: PlanEntitlements | None, add_ons: Sequence[PlanEntitlements]) -> PlanEntitlements | None:
    """What a base plan and its add-ons grant together: Schematic applies the most generous
    (reference §3.3), so per feature the larger limit, and `on` when any of them turns it on."""
    plans = [p for p in (base, *add_ons) if p is not None]
    if len(plans) <= 1:
        return plans[0] if plans else None
    values: dict[FeatureId, OverrideValue] = {}
    for plan in plans:
        for feature, value in plan.values.items():
            held = values.get(feature)
            if held is None or _grants_more(value, held):
                values[feature] = value
    return PlanEntitlements("+".join(p.plan_version_id for p in plans), " + ".join(p.plan_name for p in plans), values)


def _grants_more(a: OverrideValue, b: OverrideValue) -> bool:
    if a.value_type is ValueType.BOOLEAN and b.value_type is ValueType.BOOLEAN:
        return bool(a.value_bool) and not b.value_bool
    return a.value_type in LIMITS and b.value_type in LIMITS and is_more_generous(a, b)


def unjudged(
    changes: Iterable[Change],
    companies: Iterable[Company],
    names: Mapping[str, str] | None = None,
) -> tuple[str, ...]:
    """One line per company with a planned create or update that no plan can be compared with:
    on no plan, or on a plan without version (whose entitlements cannot be read)."""
    writing = {c.company_id for c in changes if c.action is not Action.DELETE}
    lines = []
    for company in companies:
        if company.id not in writing or company.plan_version_id is not None:
            continue
        who = (names or {}).get(company.id, company.name)
        if company.plan_name is None:
            lines.append(f"{who}: overrides not compared with a plan: the company is on no plan in Schematic")
        else:
            lines.append(
                f"{who}: overrides not compared with plan {company.plan_name}: the plan has no version in "
                "Schematic, so its entitlements cannot be read"
            )
    return tuple(lines)
