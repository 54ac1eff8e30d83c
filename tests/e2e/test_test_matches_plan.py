"""`crmsync test` runs exactly what `plan` runs: one set of deals, put in the HubSpot emulator for `plan`
and written as a case for `test`, gives the same overrides; a case's `pipeline:` (and stage, close date,
name) reach `when:` as they do in `plan`; a deal the filters leave out gets its `why:` line."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from crmsync.domain import CompanyId, OverrideValue
from crmsync.mapping.case_results import CaseResult, ExpectedOverride
from crmsync.mapping.cases import load_case_text
from crmsync.mapping.loader import load_mapping_text
from crmsync.mapping.rules import Mappings
from crmsync.service.case_runner import run_case
from tests.e2e.conftest import Harness

MAPPING = """\
source: hubspot
deals:
  pipelines: [default, enterprise]
  stages: [closedwon, ent_won]
company:
  key: hubspot_company_id
overrides:
  - feature: seats
    type: numeric
    from: seats_purchased
    combine: latest
  - feature: SSO
    type: boolean
    value: true
    when:
      pipeline: enterprise
      dealstage: ent_won
  - feature: API calls
    type: numeric
    from: api_call_limit
    metric_period: current_month
    expires_after_days: 30
"""
# (deal id, company, pipeline, stage, close date, properties): two companies, both pipelines, a stage
# the filter leaves out, a trial that has expired by the harness's day (2026-11-21) and one that has not.
DEALS = [
    ("7101", "7001", "default", "closedwon", "2026-03-01", {"seats_purchased": "10", "api_call_limit": "100"}),
    ("7102", "7001", "enterprise", "ent_won", "2026-11-01", {"seats_purchased": "40", "api_call_limit": "900"}),
    ("7103", "7001", "default", "contractsent", "2026-11-10", {"seats_purchased": "99"}),
    ("7104", "7002", "enterprise", "ent_won", "2026-09-01", {"seats_purchased": "5", "api_call_limit": "300"}),
    ("7105", "7002", "default", "closedwon", "2026-10-15", {"seats_purchased": "7"}),
]
COMPANIES = {"7001": "Tyrell", "7002": "Cyberdyne"}


def _case_text() -> str:
    """The deals as a case file (expecting nothing: the test compares with plan's overrides instead)."""
    lines = ["source: hubspot", "now: 2026-11-21T12:00:00Z",
             "features: {feat_seats: [seats], feat_sso: [SSO], feat_api_calls: [API calls]}", "cases:",
             "  - name: the same deals as the emulator's", "    deals:"]  # fmt: skip
    for deal_id, company, pipeline, stage, close, props in DEALS:
        fields = ", ".join(f"{k}: '{v}'" for k, v in props.items())
        lines.append(f"      - {{id: '{deal_id}', company: '{company}', pipeline: {pipeline}, stage: {stage}, "
                     f"close_date: {close}, properties: {{{fields}}}}}")  # fmt: skip
    return "\n".join([*lines, "    expect: {overrides: []}", ""])


def test_test_and_plan_give_the_same_overrides_for_the_same_deals(harness: Harness, tmp_path: Path) -> None:
    """Plan's creates for the emulator's deals are exactly what `test` gives for the same deals as a case."""
    companies: dict[CompanyId, str] = {}
    for ref, name in COMPANIES.items():
        harness.sb.hubspot.add_company(ref, name)
        cid = harness.sb.schematic.add_company(name, {"hubspot_company_id": ref})
        companies[CompanyId(cid)] = f"hubspot_company_id={ref}"
    for deal_id, company, pipeline, stage, close, props in DEALS:
        fields = {"pipeline": pipeline, "dealstage": stage, "closedate": f"{close}T00:00:00Z", **props}
        harness.sb.hubspot.add_deal(deal_id, properties=fields, company_ids=[company])
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "hubspot.yaml").write_text(MAPPING)

    changes = [c for c in harness.plan(maps).plan.changes if c.company_id in companies]
    planned: dict[tuple[str, str], OverrideValue] = {}
    for change in changes:
        assert change.after is not None
        planned[(companies[change.company_id], str(change.feature_id))] = change.after.value
    assert len(planned) == 5  # seats at both, SSO at Tyrell only, API calls at Tyrell only (Cyberdyne's expired)

    case_file = load_case_text(_case_text(), "cases.yaml")
    case = case_file.cases[0]
    expected = tuple(
        ExpectedOverride(company, feature, value, case.position) for (company, feature), value in planned.items()
    )
    mappings = Mappings((load_mapping_text(MAPPING, str(maps / "hubspot.yaml")),))
    result = run_case(replace(case, overrides=expected), mappings, case_file)
    assert result.passed, result.diff


def _one_case(name: str, deals: str, expect: str) -> CaseResult:
    """The result of a case file's one case (its deal lines and `expect:` as YAML) against MAPPING."""
    head = "source: hubspot\nnow: 2026-11-21T12:00:00Z\ncases:\n"
    text = f"{head}  - name: {name}\n    deals:\n{deals}    expect: {expect}\n"
    cases = load_case_text(text, "cases.yaml")
    return run_case(cases.cases[0], Mappings((load_mapping_text(MAPPING, "mappings/hubspot.yaml"),)), cases)


def test_a_cases_pipeline_reaches_when_as_in_plan() -> None:
    """`when: {pipeline: enterprise}` holds for a case deal with `pipeline: enterprise` (it was ignored)."""
    result = _one_case(
        "enterprise deals get SSO",
        "      - {id: '1', company: '9', pipeline: enterprise, stage: ent_won}\n",
        "{overrides: [{company: hubspot_company_id=9, feature: SSO, type: boolean, value: true}]}",
    )
    assert result.passed, result.diff


def test_a_deal_the_filters_leave_out_gets_its_why_line() -> None:
    """A case deal in a stage (or pipeline) the file does not count says so under the failed case."""
    result = _one_case(
        "an open deal gives nothing",
        "      - {id: '1', company: '9', pipeline: default, stage: contractsent, properties: {seats_purchased: '5'}}\n"
        "      - {id: '2', company: '9', pipeline: sandbox, stage: closedwon, properties: {seats_purchased: '5'}}\n",
        "{overrides: [{company: hubspot_company_id=9, feature: seats, type: numeric, value: 5}]}",
    )
    assert not result.passed
    assert result.notes == (
        "deal 1 is not counted: stage 'contractsent' is not in stages: [closedwon, ent_won] (hubspot.yaml)",
        "deal 2 is not counted: pipeline 'sandbox' is not in pipelines: [default, enterprise] (hubspot.yaml)",
    )


def test_a_field_given_twice_with_two_values_is_a_located_problem() -> None:
    """`stage: closedwon` beside `properties: {dealstage: ent_won}` names one CRM field twice: a located error."""
    from crmsync.errors import MappingError

    text = (
        "source: hubspot\nnow: 2026-11-21T12:00:00Z\ncases:\n  - name: x\n    deals:\n"
        "      - {id: '1', stage: closedwon, properties: {dealstage: ent_won}}\n"
        "    expect: {overrides: []}\n"
    )
    try:
        load_case_text(text, "cases.yaml")
    except MappingError as exc:
        assert [(p.line, p.message) for p in exc.problems] == [
            (6, "deal 1: stage: 'closedwon' and properties: dealstage: 'ent_won' are one CRM field")
        ]
    else:
        raise AssertionError("no problem reported")
