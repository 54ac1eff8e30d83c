"""The Combiner keeps O(1) per (company, feature) instead of every contribution; whatever order the
contributions come in, it gives exactly what combining the sorted contributions gives (the reference
below is the sorted implementation it replaced)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import groupby
from operator import attrgetter

from hypothesis import given, settings
from hypothesis import strategies as st

from crmsync.domain import (
    Combine,
    CompanyId,
    CompanyKey,
    Contribution,
    DealId,
    DealRef,
    DesiredOverride,
    FeatureId,
    MetricPeriod,
    OverrideValue,
    Pending,
    Provenance,
    RuleRef,
    Source,
    ValueType,
)
from crmsync.reconcile.combine import Combiner, combine, generosity

ORDER = attrgetter("deal.source", "deal.id", "rule.path", "rule.line")
NEVER = datetime.min.replace(tzinfo=UTC)
DAY = datetime(2026, 6, 1, tzinfo=UTC)
KEYS = [CompanyKey("hubspot_company_id", "1"), CompanyKey("hubspot_company_id", "2"), CompanyKey("sf", "9")]
COMPANIES = {KEYS[0]: CompanyId("comp_a"), KEYS[2]: CompanyId("comp_a"), KEYS[1]: CompanyId("comp_b")}  # 3: none
KEYS.append(CompanyKey("hubspot_company_id", "404"))
RULES = [RuleRef("a.yaml", 3, "seats"), RuleRef("a.yaml", 12, "seats"), RuleRef("b.yaml", 1, "seats")]
SHARED = [  # shared objects, as translation shares them, and equal values that are distinct objects
    OverrideValue(ValueType.NUMERIC, value_numeric=5),
    OverrideValue(ValueType.NUMERIC, value_numeric=5),
    OverrideValue(ValueType.NUMERIC, value_numeric=5, metric_period=MetricPeriod.CURRENT_MONTH),  # as generous
    OverrideValue(ValueType.NUMERIC, value_numeric=1),  # as generous as true
    OverrideValue(ValueType.NUMERIC, value_numeric=50, expiration=DAY),
    OverrideValue(ValueType.NUMERIC, value_numeric=7, expiration=DAY + timedelta(days=30)),
    OverrideValue(ValueType.UNLIMITED),
    OverrideValue(ValueType.BOOLEAN, value_bool=True, expiration=DAY - timedelta(days=3)),
    OverrideValue(ValueType.BOOLEAN, value_bool=False),
    OverrideValue(ValueType.TRAIT, value_trait_id="trait_1"),
]


def reference(
    contributions: Sequence[Contribution], companies: dict[CompanyKey, CompanyId]
) -> tuple[dict[tuple[CompanyId, FeatureId], DesiredOverride], tuple[Pending, ...]]:
    """The sort-based combine the Combiner replaced, kept verbatim in spirit."""
    unresolved: dict[CompanyKey, set[tuple[Source, DealId]]] = defaultdict(set)
    groups: dict[tuple[CompanyId, FeatureId], list[Contribution]] = defaultdict(list)
    for c in contributions:
        company = companies.get(c.company)
        if company is None:
            unresolved[c.company].add((c.deal.source, c.deal.id))
        else:
            groups[(company, c.feature_id)].append(c)
    desired = {}
    for key, group in sorted(groups.items()):
        ordered = sorted(group, key=ORDER)
        policy, values = ordered[0].combine, [c.value for c in ordered]
        distinct = list({id(v): v for v in values}.values())
        latest = None if any(v.expiration is None for v in distinct) else max(v.expiration for v in distinct)  # type: ignore[type-var]
        dated = [v.expiration for v in distinct if v.expiration is not None]
        if policy is Combine.LATEST:
            value = max(ordered, key=lambda c: (c.deal.close_date or NEVER, c.deal.id)).value
        elif policy is Combine.SUM:
            if any(v.value_type is ValueType.UNLIMITED for v in values):
                first = values[0]
                value = OverrideValue(
                    ValueType.UNLIMITED, metric_period=first.metric_period, month_reset=first.month_reset
                )
            elif values[0].value_type is ValueType.NUMERIC:
                total = sum(v.value_numeric or 0 for v in values if v.value_type is ValueType.NUMERIC)
                value = replace(values[0], value_numeric=total)
            else:
                value = max(values, key=generosity)
            value = replace(value, expiration=latest)
        elif policy is Combine.MIN:
            value = replace(min(distinct, key=generosity), expiration=min(dated) if dated else None)
        else:
            value = replace(max(distinct, key=generosity), expiration=latest)
        deals = tuple(pair for pair, _ in groupby((c.deal.source, c.deal.id) for c in ordered))
        rules = tuple(sorted({c.rule for c in ordered}, key=lambda r: (r.path, r.line)))
        desired[key] = DesiredOverride(key[0], key[1], value, Provenance(deals, rules))
    pending = tuple(
        Pending(k, tuple(sorted(d))) for k, d in sorted(unresolved.items(), key=lambda kv: (kv[0].name, kv[0].value))
    )
    return desired, pending


def ref(source: Source, deal_id: str, close: datetime | None) -> DealRef:
    return DealRef(source, DealId(deal_id), None, "closedwon", close, None, (source, DealId(deal_id)))


CONTRIBUTIONS = st.lists(
    st.builds(
        lambda key, feature, value, source, deal_id, close, rule: (key, feature, value, source, deal_id, close, rule),
        st.sampled_from(KEYS),
        st.sampled_from([FeatureId("feat_seats"), FeatureId("feat_sso")]),
        st.sampled_from(SHARED),
        st.sampled_from([Source.HUBSPOT, Source.SALESFORCE]),
        st.sampled_from(["7", "12", "100", "99", "3"]),  # lexical order differs from numeric order
        st.sampled_from([None, DAY, DAY + timedelta(days=1)]),
        st.sampled_from(RULES),
    ),
    min_size=1,
    max_size=30,
    unique_by=lambda row: (row[3], row[4], row[6]),  # a deal gives one contribution per rule
)


@settings(max_examples=300, deadline=None)
@given(CONTRIBUTIONS, st.sampled_from(list(Combine)), st.randoms(use_true_random=False))
def test_the_combiner_equals_the_sorted_combine_in_any_order(
    rows: list[tuple],
    policy: Combine,
    rnd: object,  # type: ignore[type-arg]
) -> None:
    """Every policy, shared and equal-but-distinct values, expirations, deals without a close date, two
    CRMs, unresolved keys: streamed in any order, the result is the sorted reference's, object for value."""
    deals: dict[tuple[Source, str], DealRef] = {}
    contributions = []
    for key, feature, value, source, deal_id, close, rule in rows:
        deal = deals.setdefault((source, deal_id), ref(source, deal_id, close))  # one ref per deal, as translated
        contributions.append(Contribution(key, feature, value, policy, deal, rule))
    expected = reference(contributions, COMPANIES)
    rnd.shuffle(contributions)  # type: ignore[attr-defined]
    combiner = Combiner(COMPANIES)
    for c in contributions:
        combiner.add(c)
    got = combiner.result()
    assert got == expected
    assert got == combine(contributions, COMPANIES)
    for key, want in expected[0].items():  # the same value object where no new one is made
        if policy is Combine.LATEST:
            assert got[0][key].value is want.value
