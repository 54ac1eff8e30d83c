"""Contributions → one desired override per (company, feature), by each rule's policy.

Pure. Runs after company keys are resolved to Schematic companies, so a company that
carries a HubSpot key and a Salesforce key gets one override combining deals from both.
Keys with no Schematic company come back as `Pending`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from itertools import groupby
from operator import attrgetter
from typing import TypeVar

from crmsync.domain import (
    Combine,
    CompanyId,
    CompanyKey,
    Contribution,
    DealId,
    DesiredOverride,
    FeatureId,
    OverrideValue,
    Pending,
    Provenance,
    RuleRef,
    Source,
    ValueType,
    gc_paused,
)

Key = tuple[CompanyId, FeatureId]
# The order contributions are combined in (Source is a StrEnum: it sorts as its value does), and a
# contribution's deal; attrgetter runs in C, once per contribution.
ORDER = attrgetter("deal.source", "deal.id", "rule.path", "rule.line")
DEAL_ID = attrgetter("deal.id")
DEAL_KEY = attrgetter("deal.key")  # (source, id), one tuple per deal
VALUE, RULE = attrgetter("value"), attrgetter("rule")
T = TypeVar("T")
NEVER = datetime.min.replace(tzinfo=UTC)


def combine(
    contributions: Iterable[Contribution], companies: Mapping[CompanyKey, CompanyId]
) -> tuple[dict[Key, DesiredOverride], tuple[Pending, ...]]:
    """Group contributions by Schematic company and feature and combine each group."""
    with gc_paused():
        return _combine(contributions, companies)


def _combine(
    contributions: Iterable[Contribution], companies: Mapping[CompanyKey, CompanyId]
) -> tuple[dict[Key, DesiredOverride], tuple[Pending, ...]]:
    unresolved: dict[CompanyKey, set[tuple[Source, DealId]]] = defaultdict(set)
    by_company: dict[CompanyId, dict[FeatureId, list[Contribution]]] = {}
    # A company key's groups, looked up once per key object (translation shares one per company; the
    # entry holds the object, so an id is never taken for another's).
    seen: dict[int, tuple[CompanyKey, dict[FeatureId, list[Contribution]] | None]] = {}
    for c in contributions:
        entry = seen.get(id(c.company))
        if entry is None or entry[0] is not c.company:
            company_id = companies.get(c.company)
            features = None if company_id is None else by_company.setdefault(company_id, {})
            entry = seen[id(c.company)] = (c.company, features)
        features = entry[1]
        if features is None:
            unresolved[c.company].add((c.deal.source, c.deal.id))
            continue
        group = features.get(c.feature_id)
        if group is None:
            group = features[c.feature_id] = []
        group.append(c)
    groups = {(company_id, f): group for company_id, fs in by_company.items() for f, group in fs.items()}
    desired = {key: _combine_group(key, group) for key, group in sorted(groups.items())}
    pending = tuple(
        Pending(key, tuple(sorted(deals)))
        for key, deals in sorted(unresolved.items(), key=lambda kv: (kv[0].name, kv[0].value))
    )
    return desired, pending


def _combine_group(key: Key, group: Sequence[Contribution]) -> DesiredOverride:
    ordered = sorted(group, key=ORDER)
    policy = ordered[0].combine
    values = list(map(VALUE, ordered))
    # Equal inputs share one value object (translation remembers them): max and min weigh each once,
    # the first of its kind where it first comes (they keep the first of equals, as over all values).
    distinct = _distinct(values)
    if policy is Combine.LATEST:
        latest = max(ordered, key=lambda c: (c.deal.close_date or NEVER, c.deal.id))  # no close date: oldest
        value = latest.value
    elif policy is Combine.SUM:
        value = _with_expiration(_sum(values), _latest_expiration(distinct))
    elif policy is Combine.MIN:
        value = _with_expiration(min(distinct, key=generosity), _earliest_expiration(distinct))
    else:
        value = _with_expiration(max(distinct, key=generosity), _latest_expiration(distinct))
    provenance = Provenance(deals=_deals(ordered), rules=_rules(ordered))
    return DesiredOverride(key[0], key[1], value, provenance)


def _deals(ordered: Sequence[Contribution]) -> tuple[tuple[Source, DealId], ...]:
    """Each deal once, in (source, id) order: `ordered` is sorted by them already."""
    if ordered[-1].deal.source is ordered[0].deal.source:  # one CRM (sorted by source: first and last tell)
        return tuple(dict(zip(map(DEAL_ID, ordered), map(DEAL_KEY, ordered), strict=True)).values())
    return tuple(pair for pair, _ in groupby(map(DEAL_KEY, ordered)))


def _rules(ordered: Sequence[Contribution]) -> tuple[RuleRef, ...]:
    """Each rule once, by file and line (the few distinct rule objects are compared, not every one)."""
    return tuple(sorted(set(_distinct(list(map(RULE, ordered)))), key=lambda r: (r.path, r.line)))


def _distinct(items: list[T]) -> list[T]:
    """Each object once (by identity, not equality: no hashing), where it first comes."""
    return list(dict(zip(map(id, items), items, strict=True)).values())


def generosity(value: OverrideValue) -> tuple[int, int]:
    """Order values by how much they grant: unlimited beats any number; true beats false."""
    if value.value_type is ValueType.UNLIMITED:
        return (2, 0)
    if value.value_type is ValueType.BOOLEAN:
        return (1, int(bool(value.value_bool)))
    if value.value_type is ValueType.NUMERIC:
        return (1, value.value_numeric or 0)
    return (0, 0)


def _sum(values: Sequence[OverrideValue]) -> OverrideValue:
    first = values[0]
    if any(v.value_type is ValueType.UNLIMITED for v in values):
        return OverrideValue(ValueType.UNLIMITED, metric_period=first.metric_period, month_reset=first.month_reset)
    if first.value_type is ValueType.NUMERIC:
        total = sum(v.value_numeric or 0 for v in values if v.value_type is ValueType.NUMERIC)
        return replace(first, value_numeric=total)
    return max(values, key=generosity)  # booleans and traits cannot be added: the most generous wins


def _with_expiration(value: OverrideValue, expiration: datetime | None) -> OverrideValue:
    return replace(value, expiration=expiration)


def _latest_expiration(values: Sequence[OverrideValue]) -> datetime | None:
    """The latest expiry wins; no expiry (never) beats any date."""
    if any(v.expiration is None for v in values):
        return None
    return max(v.expiration for v in values if v.expiration is not None)


def _earliest_expiration(values: Sequence[OverrideValue]) -> datetime | None:
    dated = [v.expiration for v in values if v.expiration is not None]
    return min(dated) if dated else None
