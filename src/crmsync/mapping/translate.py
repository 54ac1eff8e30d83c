"""Deals + mapping rules → contributions to overrides (pure; `now` is a parameter).

Called by the service after the connectors have read the deals and the features have been
resolved. A bad value in one deal becomes a `DealProblem` for that deal and rule only;
everything else proceeds. Combining contributions per company happens in `reconcile`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from crmsync.domain import (
    Combine,
    CompanyKey,
    Contribution,
    Deal,
    DealId,
    DealProblem,
    DealRef,
    FeatureId,
    OverrideValue,
    RuleRef,
    Source,
    ValueType,
    gc_paused,
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
    """What one translation produced. `deals` are the counted deals that gave a rule nothing or
    an error (`explain` finds their company by them); contributing deals are in `contributions`."""

    contributions: tuple[Contribution, ...]
    problems: tuple[DealProblem, ...]
    skipped: tuple[Skip, ...]
    deals: Mapping[tuple[Source, DealId], DealRef] = field(default_factory=dict)


def deal_counts(deal: Deal, deal_filter: DealFilter) -> bool:
    """Whether a deal is in the filter's stages (and pipelines / record types, when given).

    Compared without regard to case, as the CRMs' own filters do (SOQL `IN`, HubSpot `EQ`):
    otherwise `closed won` would read every opportunity and count none.
    """
    return stage_counts(deal.source, deal.stage, deal.pipeline, deal_filter)


def stage_counts(source: Source, stage: str, pipeline: str | None, deal_filter: DealFilter) -> bool:
    """`deal_counts` of a deal of `source` in `stage` and `pipeline` (or record type)."""
    if stage.casefold() not in deal_filter.folded_stages:
        return False
    allowed = deal_filter.folded_pipelines if source is Source.HUBSPOT else deal_filter.folded_record_types
    return allowed is None or (pipeline or "").casefold() in allowed


def translate(
    deals: Iterable[Deal],
    files: Sequence[MappingFile],
    features: Mapping[str, FeatureId],
    now: datetime,
) -> Translation:
    """Apply every file's rules to the deals of its source."""
    translator = Translator(files, features, now)
    translator.add(deals)
    return translator.result()


class Translator:
    """Translation a page of deals at a time (a read is never held whole): `add` each page as it
    arrives, then `result`. Keeps only what the plan needs of each deal (`Deal.ref`), and gives
    the same Translation, in the same order, as translating every deal at once would."""

    def __init__(
        self,
        files: Sequence[MappingFile],
        features: Mapping[str, FeatureId],
        now: datetime,
        sink: Callable[[Contribution], None] | None = None,
    ) -> None:
        """`sink`: each contribution is handed to it as made, and not kept (`result()` then has none):
        a full read is combined page by page (reconcile/combine.py `Combiner`)."""
        self._sink = sink
        self._files = [
            (f, [_Rule(r, features.get(r.feature), f.policy_for(r), now) for r in f.overrides]) for f in files
        ]
        # per file, in file order (as if each file had translated every deal in turn)
        self._contributions: list[list[Contribution]] = [[] for _ in files]
        self._problems: list[list[DealProblem]] = [[] for _ in files]
        self._skipped: list[list[Skip]] = [[] for _ in files]
        self._deals: dict[tuple[Source, DealId], DealRef] = {}
        self._counts: list[dict[tuple[Source, str, str | None], bool]] = [{} for _ in files]
        self._keys: dict[tuple[str, str], CompanyKey] = {}

    def add(self, deals: Iterable[Deal]) -> None:
        """Translate one page of deals."""
        page = deals if isinstance(deals, (list, tuple)) else list(deals)
        with gc_paused():
            for index, (mfile, rules) in enumerate(self._files):
                self._file(index, mfile, rules, page)

    def _file(self, index: int, mfile: MappingFile, rules: list[_Rule], page: Sequence[Deal]) -> None:
        counts, contribute = self._counts[index], self._sink or self._contributions[index].append
        problems, skipped = self._problems[index], self._skipped[index]
        for deal in page:
            stage_key = (deal.source, deal.stage, deal.pipeline)
            counted = counts.get(stage_key)
            if counted is None:
                counted = counts[stage_key] = deal.source is mfile.source and deal_counts(deal, mfile.deals)
            if not counted:
                continue
            ref = deal.ref()
            if not deal.company_ref:
                problems.append(DealProblem(deal.source, deal.id, "has no associated company; associate one"))
                self._deals[(deal.source, deal.id)] = ref
                continue
            company = self._key(mfile.company_key, deal.company_ref)
            props = deal.properties
            for rule in rules:
                # the hot path (a value seen before, one input) inline; `_Rule.value` is the same, in full
                found = rule.cache.get(props.get(rule.only)) if rule.only else None
                value, reason, bad = found or rule.value(deal)
                if value is None:
                    self._deals[(deal.source, deal.id)] = ref
                    if bad:
                        problems.append(DealProblem(deal.source, deal.id, reason, rule.ref))
                    else:
                        skipped.append(Skip(deal.id, rule.ref, reason))
                    continue
                contribute(Contribution(company, rule.feature, value, rule.policy, ref, rule.ref))

    def _key(self, name: str, value: str) -> CompanyKey:
        key = self._keys.get((name, value))
        if key is None:
            key = self._keys[(name, value)] = CompanyKey(name, value)
        return key

    def result(self, files: Sequence[int] | None = None) -> Translation:
        """Everything added so far, file by file; `files`: only these files (by index, in this order), as
        a Translator of just them would give (two mapping sets sharing files translate them once)."""
        order = range(len(self._files)) if files is None else files
        return Translation(
            tuple(c for i in order for c in self._contributions[i]),
            tuple(p for i in order for p in self._problems[i]),
            tuple(s for i in order for s in self._skipped[i]),
            dict(self._deals),
        )


_Value = tuple[OverrideValue | None, str, bool]


class _Rule:
    """One rule as a translation applies it: `rule_value`, remembered by the deal inputs it reads (a
    value depends on nothing else: the properties the rule reads, the close date when it counts days
    from it, and `now`). The same inputs give the same (shared, immutable) value object."""

    __slots__ = ("cache", "dated", "feature", "inputs", "now", "only", "policy", "ref", "rule")
    LIMIT = 4096  # distinct inputs remembered (values repeat across deals); then it starts again

    def __init__(self, rule: OverrideRule, feature: FeatureId | None, policy: Combine, now: datetime) -> None:
        # A feature left unresolved fails (KeyError) where a value would use it, as a lookup per deal would.
        self.rule, self.policy, self.ref, self.now = rule, policy, rule.ref(), now
        self.feature = feature or FeatureId("")
        self.inputs = tuple(dict.fromkeys(rule.properties()))
        self.dated = rule.expires_after_days is not None
        # the one property a rule's value depends on, when it depends on one only (its cache key)
        self.only = self.inputs[0] if len(self.inputs) == 1 and not self.dated and feature is not None else ""
        self.cache: dict[object, _Value] = {}

    def value(self, deal: Deal) -> _Value:
        """The value, the reason when there is none, and whether that reason is a bad value (a deal problem)."""
        inputs = self.inputs
        key: object
        if self.dated:
            key = (*map(deal.properties.get, inputs), deal.close_date)
        elif self.only:
            key = deal.properties.get(self.only)  # None or the raw string (one rule: one kind of key)
        else:
            key = tuple(map(deal.properties.get, inputs))
        found = self.cache.get(key)
        if found is None:
            try:
                found = (*rule_value(self.rule, deal, self.now), False)
            except BadValue as exc:
                found = (None, str(exc), True)
            if len(self.cache) >= self.LIMIT:
                self.cache.clear()
            self.cache[key] = found
        if found[0] is not None and not self.feature:
            raise KeyError(self.rule.feature)
        return found


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
