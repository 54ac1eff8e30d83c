"""Fuzzed deal property values of every type (dates out of range, huge numbers, Unicode digits,
long strings): that deal is reported, every other company proceeds, and nothing raises.

Pure properties run the sample mapping files over HubSpot and Salesforce conversions, translation
and combination; the end-to-end property applies through the sandbox. `CRMSYNC_FUZZ_EXAMPLES`
sets the examples per pure property (default 150; the end-to-end one runs a tenth of that)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmsync.cli.demo import sample_mappings
from crmsync.connectors import hubspot_convert
from crmsync.connectors.salesforce_soql import to_deal
from crmsync.domain import CompanyId, FeatureId
from crmsync.mapping.loader import load_mappings
from crmsync.mapping.translate import translate
from crmsync.reconcile.combine import combine
from crmsync.sandbox import Sandbox
from crmsync.settings import load_settings
from tests.e2e.conftest import Harness, crmsync_env, fast
from tests.e2e.scenarios import overrides_per_pair

EXAMPLES = int(os.environ.get("CRMSYNC_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
MAPPINGS = load_mappings(sample_mappings())
FEATURES = {"seats": FeatureId("feat_seats"), "SSO": FeatureId("feat_sso"), "API calls": FeatureId("feat_api")}

years = st.integers(min_value=-99999, max_value=99999)
dates = st.one_of(
    st.builds(lambda y, m, d: f"{y:04d}-{m:02d}-{d:02d}", years, st.integers(0, 99), st.integers(0, 99)),
    st.builds(lambda y, o: f"{y:04d}-12-31T23:59:59{o}", years, st.sampled_from(["-23:59", "+23:59", "Z", "+99:99"])),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),  # epoch milliseconds, sane or not
)
numbers = st.one_of(
    st.integers(min_value=-(10**400), max_value=10**400).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats().map(repr),
)
unicode_digits = st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=20)
strings = st.one_of(st.text(max_size=200), st.sampled_from(["", " ", "\x00", "unlimited", "true", "yes", "∞"]))
long_strings = st.integers(min_value=1_000, max_value=200_000).map(lambda n: "7" * n)
anything = st.one_of(dates, numbers, unicode_digits, strings, long_strings)
FUZZ_COMPANY = "comp_fuzz"
HUBSPOT_PROPS = ("seats_purchased", "sso_addon", "api_call_limit", "contract_end_date", "closedate")


def hubspot_deal(deal_id: str, company: str, props: dict[str, str]) -> Any:
    """A HubSpot deal converted from its JSON shape, as the connector converts it."""
    raw = {
        "id": deal_id,
        "properties": {
            "dealstage": "closedwon",
            "pipeline": "default",
            "seats_purchased": "10",
            "api_call_limit": "1000",
            "contract_end_date": "2027-06-30",
            "closedate": "2026-05-01T12:00:00Z",
            **props,
        },
    }
    return hubspot_convert.with_company(hubspot_convert.deal(raw), company)


def outcome(deals: list[Any]) -> tuple[set[str], set[str]]:
    """Deal ids that contributed and deal ids reported, after translation and combination."""
    translation = translate(deals, MAPPINGS.files, FEATURES, NOW)
    keys = {c.company for c in translation.contributions}
    combine(translation.contributions, {k: CompanyId(f"comp_{k.value}") for k in keys})
    return {c.deal.id for c in translation.contributions}, {p.deal_id for p in translation.problems}


@FUZZ
@given(st.dictionaries(st.sampled_from(HUBSPOT_PROPS), anything, min_size=1))
def test_a_fuzzed_hubspot_deal_affects_that_deal_only(props: dict[str, str]) -> None:
    """Whatever a HubSpot deal holds, the other company's deal contributes and nothing raises."""
    contributed, reported = outcome([hubspot_deal("1", "5001", props), hubspot_deal("2", "5002", {})])
    assert "2" in contributed and "2" not in reported
    for problem in translate([hubspot_deal("1", "5001", props)], MAPPINGS.files, FEATURES, NOW).problems:
        assert len(problem.message) < 600 and "\n" not in problem.message


salesforce_values = st.one_of(
    anything,
    st.decimals(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(10**60), max_value=10**60),
    st.booleans(),
    st.none(),
)


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["Seats__c", "SSO_Addon__c", "API_Call_Limit__c", "Contract_End_Date__c"]),
        salesforce_values,
        min_size=1,
    )
)
def test_a_fuzzed_salesforce_opportunity_affects_that_deal_only(fields: dict[str, Any]) -> None:
    """Whatever an Opportunity's fields hold, the other account's deal contributes and nothing raises."""
    props = ("Seats__c", "SSO_Addon__c", "API_Call_Limit__c", "Contract_End_Date__c")

    def record(opp: str, account: str, values: dict[str, Any]) -> Any:
        base = {
            "Id": opp,
            "AccountId": account,
            "StageName": "Closed Won",
            "IsWon": True,
            "CloseDate": "2026-05-01",
            "Seats__c": Decimal(10),
            "API_Call_Limit__c": 1000,
            "Contract_End_Date__c": "2027-06-30",
        }
        return to_deal({**base, **values}, props)

    contributed, reported = outcome([record("006A", "001A", fields), record("006B", "001B", {})])
    assert "006B" in contributed and "006B" not in reported


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """One sandbox for every example of the end-to-end property (a fresh one each would be slow)."""
    path = tmp_path_factory.mktemp("fuzz")
    with Sandbox() as sb:
        sb.hubspot.add_company("5999", "Fuzz Inc")
        sb.schematic.add_company("Fuzz Inc", {"hubspot_company_id": "5999"}, company_id=FUZZ_COMPANY)
        sb.hubspot.add_deal("1999", properties={"dealstage": "closedwon", "pipeline": "default"}, company_ids=["5999"])
        yield Harness(sb, fast(load_settings(crmsync_env(sb, f"sqlite:///{path}/state.db", sample_mappings()))))


@settings(max_examples=max(5, EXAMPLES // 10), deadline=None, suppress_health_check=list(HealthCheck))
@given(st.dictionaries(st.sampled_from(HUBSPOT_PROPS), anything, min_size=1))
def test_a_fuzzed_deal_never_stops_an_apply(shared: Harness, props: dict[str, str]) -> None:
    """Applying with one fuzzed deal: every sample company converges, no duplicate, nothing raised."""
    shared.sb.hubspot.update_deal("1999", **props)
    run, report = shared.apply()
    others = [r for r in report.failed if r.company_id != FUZZ_COMPANY]
    assert not others, others
    assert all(len(p.message) < 600 for p in run.plan.problems)
    assert set(overrides_per_pair(shared).values()) == {1}
    assert {c.company_id for c in shared.plan().plan.changes} <= {FUZZ_COMPANY}  # everyone else converged
