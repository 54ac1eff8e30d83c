"""Contributions → one desired override per (company, feature), by each rule's policy.

Pure. Runs after company keys are resolved to Schematic companies, so a company that
carries a HubSpot key and a Salesforce key gets one override combining deals from both.
Keys with no Schematic company come back as `Pending`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

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
# ORDER, the order every choice is made in: a contribution's (source, deal id, rule file, rule line)
# (Source is a StrEnum: it sorts as its value does); of two equal, the one that came first.
Order = tuple[Source, DealId, str, int]
NEVER = datetime.min.replace(tzinfo=UTC)


def combine(
    contributions: Iterable[Contribution], companies: Mapping[CompanyKey, CompanyId]
) -> tuple[dict[Key, DesiredOverride], tuple[Pending, ...]]:
    """Group contributions by Schematic company and feature and combine each group."""
    combiner = Combiner(companies)
    with gc_paused():
        for c in contributions:
            combiner.add(c)
    return combiner.result()


class Combiner:
    """`combine`, fed one contribution at a time: a full read is combined as it is translated, and
    what a group keeps is each distinct value once, its deals' keys and its rules, never the
    contributions (a contribution and its deal would otherwise live until every page is read).

    The result does not depend on the order contributions come in: every choice is made as over
    the contributions sorted by ORDER (see `Order`)."""

    def __init__(self, companies: Mapping[CompanyKey, CompanyId]) -> None:
        self._companies = companies
        self._unresolved: dict[CompanyKey, set[tuple[Source, DealId]]] = defaultdict(set)
        self._groups: dict[Key, _Group] = {}
        # A company key's groups, looked up once per key object (translation shares one per company;
        # the entry holds the object, so an id is never taken for another's).
        self._seen: dict[int, tuple[CompanyKey, CompanyId | None]] = {}

    def add(self, c: Contribution) -> None:
        """One more contribution."""
        entry = self._seen.get(id(c.company))
        if entry is None or entry[0] is not c.company:
            entry = self._seen[id(c.company)] = (c.company, self._companies.get(c.company))
        company_id = entry[1]
        if company_id is None:
            self._unresolved[c.company].add(c.deal.key)
            return
        group = self._groups.get((company_id, c.feature_id))
        if group is None:
            group = self._groups[(company_id, c.feature_id)] = _Group(c)
        group.add(c)

    def result(self) -> tuple[dict[Key, DesiredOverride], tuple[Pending, ...]]:
        """The desired overrides (by company and feature, sorted) and the pending company keys."""
        desired = {key: self._groups[key].desired(key) for key in sorted(self._groups)}
        pending = tuple(
            Pending(key, tuple(sorted(deals)))
            for key, deals in sorted(self._unresolved.items(), key=lambda kv: (kv[0].name, kv[0].value))
        )
        return desired, pending


class _Group:
    """What one (company, feature) keeps of its contributions to combine them by its policy: the chosen
    value so far (for `max`, `min`, `latest`; `sum` adds as it goes), the expirations' bound, its deals'
    keys and its rules. Each choice is the one made over the contributions in ORDER: of equals, the
    first. The policy is the group's first contribution's: the mapping checks make it one per feature."""

    __slots__ = ("best", "expiry", "first", "keys", "policy", "rank", "rules", "total", "undated", "unlimited")

    def __init__(self, c: Contribution) -> None:
        self.policy = c.combine
        self.first: tuple[OverrideValue, Order] | None = None  # `sum`: the first value in ORDER gives the shape
        self.best: tuple[OverrideValue, Order] | None = None  # the chosen value and the first ORDER it came at
        self.rank: tuple[Any, ...] = ()  # how the chosen value ranks: generosity, or (close date, deal id)
        self.total = 0  # `sum`: every numeric value added
        self.unlimited = False  # `sum`: any value unlimited
        self.undated = False  # any value without an expiration (it never expires)
        self.expiry: datetime | None = None  # the latest expiration (`min`: the earliest)
        self.keys: list[tuple[Source, DealId]] = []
        self.rules: tuple[RuleRef, ...] = ()  # each rule object once (a tuple: mostly one; 30,000 groups)

    def add(self, c: Contribution) -> None:
        if c.combine is not self.policy:
            raise ValueError(f"contributions to one override disagree on the policy ({self.policy}, {c.combine})")
        value, deal, policy = c.value, c.deal, self.policy
        self.keys.append(deal.key)
        if c.rule not in self.rules:  # `in` tries identity first: a rule object is shared by its contributions
            self.rules += (c.rule,)
        if policy is Combine.LATEST:
            self._choose(value, (deal.close_date or NEVER, deal.id), c, larger=True)  # no close date: oldest
            return
        best = self.best
        if best is not None and value is best[0]:  # the chosen object again (a shared value): same rank
            if _before(c, best[1]):
                self.best = (value, _order(c))
        else:
            self._choose(value, generosity(value), c, larger=policy is not Combine.MIN)
        if policy is Combine.SUM:
            if self.first is None or _before(c, self.first[1]):
                self.first = (value, _order(c))
            if value.value_type is ValueType.NUMERIC:
                self.total += value.value_numeric or 0
            elif value.value_type is ValueType.UNLIMITED:
                self.unlimited = True
        expiration = value.expiration
        if expiration is None:
            self.undated = True
        elif self.expiry is None or (expiration < self.expiry if policy is Combine.MIN else expiration > self.expiry):
            self.expiry = expiration

    def _choose(self, value: OverrideValue, rank: tuple[Any, ...], c: Contribution, *, larger: bool) -> None:
        """Keep `value` if it ranks above the chosen one (below, for `min`), or as high but earlier in ORDER."""
        best = self.best
        if best is None or (rank > self.rank if larger else rank < self.rank):
            self.best, self.rank = (value, _order(c)), rank
        elif rank == self.rank and _before(c, best[1]):
            self.best = (value, _order(c))  # the same object or an equal one: the earlier wins, as in a sort

    def desired(self, key: Key) -> DesiredOverride:
        assert self.best is not None  # a group is made for its first contribution
        value = self.best[0]
        expiry = None if self.undated and self.policy is not Combine.MIN else self.expiry  # no date: never expires
        if self.policy is Combine.SUM:
            assert self.first is not None
            value = _with_expiration(self._sum(self.first[0], value), expiry)
        elif self.policy is not Combine.LATEST:
            value = _with_expiration(value, expiry)
        deals = tuple(sorted(set(self.keys)))  # each deal once, in (source, id) order
        rules = tuple(sorted(set(self.rules), key=lambda r: (r.path, r.line)))
        return DesiredOverride(key[0], key[1], value, Provenance(deals=deals, rules=rules))

    def _sum(self, first: OverrideValue, most: OverrideValue) -> OverrideValue:
        if self.unlimited:
            return OverrideValue(ValueType.UNLIMITED, metric_period=first.metric_period, month_reset=first.month_reset)
        if first.value_type is ValueType.NUMERIC:
            return replace(first, value_numeric=self.total)
        return most  # booleans and traits cannot be added: the most generous wins


def _order(c: Contribution) -> Order:
    return (c.deal.source, c.deal.id, c.rule.path, c.rule.line)


def _before(c: Contribution, order: Order) -> bool:
    """Whether `c` comes before `order` in ORDER. Deals mostly come in id order: a later id of the same
    CRM is decided without building the tuple."""
    deal = c.deal
    if deal.id > order[1] and deal.source is order[0]:
        return False
    return _order(c) < order


def generosity(value: OverrideValue) -> tuple[int, int]:
    """Order values by how much they grant: unlimited beats any number; true beats false."""
    if value.value_type is ValueType.UNLIMITED:
        return (2, 0)
    if value.value_type is ValueType.BOOLEAN:
        return (1, int(bool(value.value_bool)))
    if value.value_type is ValueType.NUMERIC:
        return (1, value.value_numeric or 0)
    return (0, 0)


def _with_expiration(value: OverrideValue, expiration: datetime | None) -> OverrideValue:
    # the same object when nothing changes: a value shared by many deals stays shared by their overrides
    return value if value.expiration == expiration else replace(value, expiration=expiration)
