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
    Source,
    ValueType,
)

Key = tuple[CompanyId, FeatureId]
NEVER = datetime.min.replace(tzinfo=UTC)


def combine(
    contributions: Iterable[Contribution], companies: Mapping[CompanyKey, CompanyId]
) -> tuple[dict[Key, DesiredOverride], tuple[Pending, ...]]:
    """Group contributions by Schematic company and feature and combine each group."""
    groups: dict[Key, list[Contribution]] = defaultdict(list)
    unresolved: dict[CompanyKey, set[tuple[Source, DealId]]] = defaultdict(set)
    for c in contributions:
        company_id = companies.get(c.company)
        if company_id is None:
            unresolved[c.company].add((c.deal.source, c.deal.id))
            continue
        groups[(company_id, c.feature_id)].append(c)
    desired = {key: _combine_group(key, group) for key, group in sorted(groups.items())}
    pending = tuple(
        Pending(key, tuple(sorted(deals)))
        for key, deals in sorted(unresolved.items(), key=lambda kv: (kv[0].name, kv[0].value))
    )
    return desired, pending


def _combine_group(key: Key, group: Sequence[Contribution]) -> DesiredOverride:
    ordered = sorted(group, key=lambda c: (c.deal.source.value, c.deal.id, c.rule.path, c.rule.line))
    policy = ordered[0].combine
    values = [c.value for c in ordered]
    if policy is Combine.LATEST:
        latest = max(ordered, key=lambda c: (c.deal.close_date or NEVER, c.deal.id))  # no close date: oldest
        value = latest.value
    elif policy is Combine.SUM:
        value = _with_expiration(_sum(values), _latest_expiration(values))
    elif policy is Combine.MIN:
        value = _with_expiration(min(values, key=generosity), _earliest_expiration(values))
    else:
        value = _with_expiration(max(values, key=generosity), _latest_expiration(values))
    provenance = Provenance(
        deals=tuple(sorted({(c.deal.source, c.deal.id) for c in ordered})),
        rules=tuple(sorted({c.rule for c in ordered}, key=lambda r: (r.path, r.line))),
    )
    return DesiredOverride(key[0], key[1], value, provenance)


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
