"""Mapping tests (`crmsync test`): case files load with located errors, run through the real
translate and combine, and report expected vs got readably."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crmsync.cli import app
from crmsync.domain import Source
from crmsync.errors import MappingError
from crmsync.mapping.case_results import CaseResult
from crmsync.mapping.cases import SHAPE, load_case_text
from crmsync.mapping.loader import load_mapping_text, load_mappings
from crmsync.mapping.rules import Mappings
from crmsync.service.case_runner import run_case

ROOT = Path(__file__).parents[2]
SHIPPED = [ROOT / "mappings", ROOT / "src" / "crmsync" / "sandbox" / "mappings"]
runner = CliRunner()

MAPPING = load_mapping_text(
    textwrap.dedent("""\
        source: hubspot
        deals: {stages: [closedwon]}
        company: {key: hubspot_company_id}
        overrides:
          - feature: seats
            type: numeric
            from: seats_purchased
          - feature: API calls
            type: numeric
            from: api_call_limit
            metric_period: current_month
            expires_from: contract_end_date
        """),
    "mappings/hubspot.yaml",
)


def run(text: str) -> list[CaseResult]:
    """Load a case file's text and run every case against MAPPING."""
    cases = load_case_text(textwrap.dedent(text), "mappings/tests/t.yaml")
    return [run_case(case, Mappings((MAPPING,)), cases) for case in cases.cases]


TWO_DEALS = """\
    source: hubspot
    now: 2026-11-21
    cases:
      - name: the larger seat count wins
        deals:
          - {id: 1, company: 5001, stage: closedwon, properties: {seats_purchased: 50}}
          - {id: 2, company: 5001, stage: closedwon, properties: {seats_purchased: 30}}
        expect:
          overrides:
            - {company: hubspot_company_id=5001, feature: seats, type: numeric, value: %s}
    """


def test_a_case_passes_when_the_real_code_gives_exactly_the_expected_overrides() -> None:
    """Two deals, combine max: 50 seats is what translate + combine give."""
    (result,) = run(TWO_DEALS % 50)
    assert result.passed and result.diff == ()


def test_a_wrong_value_is_shown_as_expected_versus_got() -> None:
    """A different value is one `~` line naming company, feature, expected and got."""
    (result,) = run(TWO_DEALS % 30)
    assert result.diff == ("~ hubspot_company_id=5001 / seats: expected numeric 30, got numeric 50",)


def test_missing_and_unexpected_overrides_and_errors_are_each_one_line() -> None:
    """`-` for what did not come, `+` for what came unasked, including deal errors."""
    (result,) = run("""\
        source: hubspot
        now: 2026-11-21T12:00:00Z
        cases:
          - name: mixed
            deals:
              - {id: 7, company: 5002, stage: closedwon, properties: {seats_purchased: lots, api_call_limit: 9}}
            expect:
              overrides:
                - {company: hubspot_company_id=5002, feature: seats, type: numeric, value: 10}
              errors:
                - {deal: 8}
        """)
    assert result.diff == (
        "+ hubspot_company_id=5002 / API calls: got numeric 9 per current_month, not expected",
        "- hubspot_company_id=5002 / seats: expected numeric 10, got no override",
        "- expected an error for deal 8, got none",
        "+ error not expected: deal 7: 'lots' is not a number (hubspot.yaml:5, feature 'seats')",
    )


def test_a_missing_override_is_explained_by_why_the_deal_gave_nothing() -> None:
    """Under a failure, the skip reasons of the features that fell short are shown."""
    (result,) = run("""\
        source: hubspot
        now: 2026-11-21
        cases:
          - name: expired
            deals:
              - {id: 9, company: 5003, stage: closedwon, properties: {api_call_limit: 5, contract_end_date: 2025-06-30}}
            expect:
              overrides:
                - {company: hubspot_company_id=5003, feature: API calls, type: numeric, value: 5,
                   metric_period: current_month, expiration: 2025-06-30}
        """)
    assert not result.passed
    assert "deal 9 gave 'API calls' (hubspot.yaml:8) nothing: expired 2025-06-30" in result.notes


def test_a_case_now_overrides_the_file_now_so_expiry_is_judged_at_that_moment() -> None:
    """The same deal counts before its contract ends (case-level now:)."""
    (result,) = run("""\
        source: hubspot
        now: 2026-11-21
        cases:
          - name: before the end
            now: 2025-01-01T00:00:00Z
            deals:
              - {id: 9, company: 5003, stage: closedwon, properties: {api_call_limit: 5, contract_end_date: 2025-06-30}}
            expect:
              overrides:
                - {company: hubspot_company_id=5003, feature: API calls, type: numeric, value: 5,
                   metric_period: current_month, expiration: 2025-06-30}
        """)
    assert result.passed, result.diff


def test_aliases_and_company_groups_let_cases_name_features_and_companies_once() -> None:
    """`features:` maps rule texts to one name; `companies:` groups the keys of one company."""
    (result,) = run("""\
        source: hubspot
        now: 2026-11-21
        features: {Seats: [seats]}
        companies: {acme: [hubspot_company_id=5001]}
        cases:
          - name: named
            deals: [{id: 1, company: 5001, stage: closedwon, properties: {seats_purchased: 5}}]
            expect: {overrides: [{company: acme, feature: Seats, type: numeric, value: 5}]}
        """)
    assert result.passed, result.diff


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        pytest.param(
            "cases: [{name: x, now: 2026-01-01, deals: [], expect: {}}]",
            "1:47",
            "expect: has no overrides:",
            id="expect without overrides",
        ),
        pytest.param(
            "cases:\n  - name: x\n    now: soon\n    deals: []\n    expect: {overrides: []}\n",
            "3:10",
            "now: 'soon' is not a date",
            id="a bad date",
        ),
        pytest.param(
            "now: 2026-01-01\ncases:\n  - {name: x, deals: [{id: 1}], expect: {overrides: []}}\n",
            "3:23",
            "this deal has no stage:",
            id="a deal without stage",
        ),
        pytest.param(
            "now: 2026-01-01\ncases: [{name: x, deals: [], expect: {overrides: [{company: a=1, feature: f, "
            "type: numeric}]}}]\n",
            "2:51",
            "type: numeric needs a value:",
            id="an override without value",
        ),
        pytest.param("cases: [unclosed\n", "1:8", "not valid YAML", id="garbled YAML"),
        pytest.param("", "1:1", "this file is empty", id="empty file"),
    ],
)
def test_a_malformed_case_file_is_a_located_problem(text: str, where: str, says: str) -> None:
    """Every problem carries path:line:col and says what is wrong."""
    with pytest.raises(MappingError) as caught:
        load_case_text(text, "t.yaml", Source.HUBSPOT)
    shown = [str(p) for p in caught.value.problems]
    assert any(p.startswith(f"t.yaml:{where}: ") and says in p for p in shown), shown


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "this file is empty"),
        (b"\xef\xbb\xbf", "this file is empty"),
        ("  \n\n", "this file is empty"),
        ("# cases come later\n", "this file holds only comments"),
        ("\ufeff# a comment\n", "this file holds only comments"),
    ],
    ids=["empty", "BOM only", "blank lines", "comments only", "BOM and a comment"],
)
def test_a_case_file_with_nothing_in_it_says_what_a_case_file_needs(text: str | bytes, says: str) -> None:
    """The hint speaks of case files (cases:), never of mapping files (source:, deals:, …)."""
    with pytest.raises(MappingError) as caught:
        load_case_text(text, "t.yaml", Source.HUBSPOT)
    [problem] = caught.value.problems
    assert (problem.line, problem.col, problem.message, problem.hint) == (1, 1, says, SHAPE)


@pytest.mark.parametrize("folder", SHIPPED, ids=["mappings/", "packaged sample"])
def test_crmsync_test_passes_on_the_shipped_cases(folder: Path) -> None:
    """`crmsync test` runs the cases shipped beside the sample mappings and they all pass."""
    result = runner.invoke(app, ["test", "--mappings", str(folder)])
    assert result.exit_code == 0, result.output
    assert "0 failed" in result.output and "✗" not in result.output


def test_crmsync_test_fails_a_wrong_expectation_with_a_readable_diff(tmp_path: Path) -> None:
    """A wrong expected value: exit 1, the case located, and expected vs got on one line."""
    shutil.copytree(SHIPPED[0], tmp_path / "maps")
    cases = tmp_path / "maps" / "tests" / "sample.yaml"
    cases.write_text(cases.read_text().replace("feature: seats, type: numeric, value: 250}", "feature: seats, "
                                               "type: numeric, value: 25}"))  # fmt: skip
    result = runner.invoke(app, ["test", "--mappings", str(tmp_path / "maps")])
    assert result.exit_code == 1
    assert f"✗ {cases}:" in result.output
    assert "~ hubspot_company_id=5003 / seats: expected numeric 25, got numeric 250" in result.output
    assert "1 failed" in result.output


def test_crmsync_test_on_a_malformed_case_file_exits_2_with_path_line_col(tmp_path: Path) -> None:
    """A case file that does not read: exit 2 and a located message, no traceback."""
    shutil.copytree(SHIPPED[0], tmp_path / "maps")
    (tmp_path / "maps" / "tests" / "bad.yaml").write_text("now: 2026-01-01\ncases:\n  - name: x\n    deals: 3\n")
    result = runner.invoke(app, ["test", "--mappings", str(tmp_path / "maps")])
    assert result.exit_code == 2
    assert f"{tmp_path}/maps/tests/bad.yaml:4:12: deals: must be a list" in result.output
    assert "Traceback" not in result.output


def test_the_sample_mapping_folder_still_loads_with_a_tests_subfolder() -> None:
    """Case files beside the mappings are not read as mapping files."""
    assert len(load_mappings(SHIPPED[0]).files) == len(list(SHIPPED[0].glob("*.yaml")))
