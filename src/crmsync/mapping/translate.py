"""Deals + mapping rules → contributions to overrides (pure; `now` is a parameter).

Called by the service after the connectors have read the deals and the features have been
resolved. A bad value in one deal becomes a `DealProblem` for that deal and rule only;
everything else proceeds. Combining contributions per company happens in `reconcile`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from crmsync.domain import (
    CompanyKey,
    Contribution,
    Deal,
    DealId,
    DealProblem,
    FeatureId,
    OverrideValue,
    RuleRef,
    Source,
    ValueType,
)
from crmsync.errors import quote
from crmsync.mapping.rules import Condition, DealFilter, MappingFile, Op, OverrideRule
from crmsync.mapping.values import (
    BadValue,
    add_days,
    month_reset,
    parse_bool,
    parse_decimal,
    parse_instant,
    parse_whole,
    to_second,
)


@dataclass(frozen=True)
class Skip:
    """A counted deal that gives a rule no override, and why (shown by `explain`)."""

    deal_id: DealId
    rule: RuleRef
    reason: str


@dataclass(frozen=True)
class Translation:
    """What one translation produced."""

    contributions: tuple[Contribution, ...]
    problems: tuple[DealProblem, ...]
    skipped: tuple[Skip, ...]


def deal_counts(deal: Deal, deal_filter: DealFilter) -> bool:
    """Whether a deal is in the filter's stages (and pipelines / record types, when given).

    Compared without regard to case, as the CRMs' own filters do (SOQL `IN`, HubSpot `EQ`):
    otherwise `closed won` would read every opportunity and count none.
    """
    if deal.stage.casefold() not in deal_filter.folded_stages:
        return False
    allowed = deal_filter.folded_pipelines if deal.source is Source.HUBSPOT else deal_filter.folded_record_types
    return allowed is None or (deal.pipeline or "").casefold() in allowed


def translate(
    deals: Iterable[Deal],
    files: Sequence[MappingFile],
    features: Mapping[str, FeatureId],
    now: datetime,
) -> Translation:
    """Apply every file's rules to the deals of its source."""
    contributions: list[Contribution] = []
    problems: list[DealProblem] = []
    skipped: list[Skip] = []
    deal_list = list(deals)
    for mfile in files:
        for deal in deal_list:
            if deal.source is not mfile.source or not deal_counts(deal, mfile.deals):
                continue
            if not deal.company_ref:
                problems.append(DealProblem(deal.source, deal.id, "has no associated company; associate one"))
                continue
            company = CompanyKey(mfile.company_key, deal.company_ref)
            for rule in mfile.overrides:
                try:
                    value, reason = rule_value(rule, deal, now)
                except BadValue as exc:
                    problems.append(DealProblem(deal.source, deal.id, str(exc), rule.ref()))
                    continue
                if value is None:
                    skipped.append(Skip(deal.id, rule.ref(), reason))
                    continue
                contributions.append(
                    Contribution(company, features[rule.feature], value, mfile.policy_for(rule), deal, rule.ref())
                )
    return Translation(tuple(contributions), tuple(problems), tuple(skipped))


def rule_value(rule: OverrideRule, deal: Deal, now: datetime) -> tuple[OverrideValue | None, str]:
    """The value one rule gives one deal, or None with the reason it gives none."""
    failed = next((c for c in rule.when if not condition_holds(c, deal.properties.get(c.prop))), None)
    if failed is not None:
        return None, f"`when` on {failed.prop!r} does not hold"
    if rule.starts_from:
        start_raw = _prop(deal, rule.starts_from)
        if start_raw is None:
            return None, f"no start date in {rule.starts_from!r}"
        if parse_instant(start_raw, end_of_day=False) > now:
            return None, f"the contract starts {start_raw.strip()[:40]}"
    raw = _raw_value(rule, deal)
    if raw is None and rule.value_type is not ValueType.UNLIMITED:
        return None, f"no value in {rule.source_property!r}"
    expiration = _expiration(rule, deal)
    expiration = to_second(expiration) if expiration is not None else None
    if expiration is not None and expiration <= now:
        return None, f"expired {expiration:%Y-%m-%d}"
    reset = month_reset(rule.metric_period, rule.month_reset)
    value = replace(_typed_value(rule, raw), metric_period=rule.metric_period, month_reset=reset, expiration=expiration)
    return value, ""


def condition_holds(condition: Condition, raw: str | None) -> bool:
    """Whether a deal property passes one `when` condition (text compared trimmed, any case)."""
    present = raw is not None and raw.strip() != ""
    if condition.op is Op.PRESENT:
        return present
    if condition.op is Op.ABSENT:
        return not present
    if not present or raw is None:
        return False
    if condition.op in (Op.EQ, Op.ANY_OF):
        return raw.strip().lower() in condition.matching
    try:
        number = parse_decimal(raw)
    except BadValue:
        return False
    limit = condition.number
    assert limit is not None, "the loader gives every comparison a number"
    return {
        Op.GT: number > limit,
        Op.GTE: number >= limit,
        Op.LT: number < limit,
        Op.LTE: number <= limit,
    }[condition.op]


def _prop(deal: Deal, name: str) -> str | None:
    raw = deal.properties.get(name)
    return raw if raw is not None and raw.strip() != "" else None


def _raw_value(rule: OverrideRule, deal: Deal) -> str | None:
    if rule.constant is not None:
        return rule.constant
    raw = _prop(deal, rule.source_property) if rule.source_property else None
    if raw is None:
        raw = rule.default
    if raw is not None and rule.lookup is not None:  # its keys are stored trimmed and in lower case
        key = raw.strip().lower()
        if key not in rule.lookup:
            choices = ", ".join(sorted(rule.lookup))
            raise BadValue(f"{quote(raw)} is not in the rule's `map` (known: {choices})")
        raw = rule.lookup[key]
    return raw


def _expiration(rule: OverrideRule, deal: Deal) -> datetime | None:
    if rule.expires_from:
        raw = _prop(deal, rule.expires_from)
        return parse_instant(raw, end_of_day=True) if raw is not None else None
    if rule.expires_after_days is not None:
        if deal.close_date is None:
            raise BadValue("has no close date to count `expires_after_days` from")
        return add_days(deal.close_date, rule.expires_after_days)
    return None


def _typed_value(rule: OverrideRule, raw: str | None) -> OverrideValue:
    if rule.value_type is ValueType.UNLIMITED:
        return OverrideValue(ValueType.UNLIMITED)
    assert raw is not None
    if rule.value_type is ValueType.BOOLEAN:
        return OverrideValue(ValueType.BOOLEAN, value_bool=parse_bool(raw))
    if rule.value_type is ValueType.TRAIT:
        return OverrideValue(ValueType.TRAIT, value_trait_id=rule.trait or raw.strip())
    if rule.lookup is not None and raw.strip().lower() == "unlimited":  # a `map` may grant unlimited
        return OverrideValue(ValueType.UNLIMITED)
    return OverrideValue(ValueType.NUMERIC, value_numeric=parse_whole(raw, rule.multiply))
