"""The mapping loader: YAML mapping files become the rules model, or every located problem."""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmsync.domain import Combine, DriftPolicy, MetricPeriod, MonthReset, Source, ValueType
from crmsync.errors import MappingError, Problem
from crmsync.mapping.loader import MAX_BYTES, load_mapping_text, load_mappings
from crmsync.mapping.rules import Condition, DealFilter, MappingFile, Op, OverrideRule, Position

V1 = """\
source: hubspot                 # hubspot | salesforce
deals:                          # for source: salesforce the key is `opportunities:` instead
  pipelines: [default]          # optional; any pipeline when absent
  stages: [closedwon]           # required, non-empty: deal stages that count
company:
  key: hubspot_company_id       # Schematic company key whose value is the deal's CRM company id
overrides:
  - feature: seats              # Schematic feature by id (feat_…), flag key, or exact name
    type: numeric               # boolean | numeric | unlimited | trait
    from: seats_purchased       # deal property holding the value
  - feature: SSO
    type: boolean
    value: true                 # a constant instead of `from`
    when:                       # only deals whose properties match
      sso_addon: "true"
  - feature: API calls
    type: numeric
    from: api_call_limit
    metric_period: current_month            # all_time | current_day | current_week | current_month
    metric_period_month_reset: first_of_month   # first_of_month | billing_cycle (only with current_month)
    expires_from: contract_end_date         # deal property with a date or datetime
combine: max                    # several deals → one company+feature: max (default) | sum | latest | min
"""

HEAD = """\
source: hubspot
deals:
  stages: [closedwon]
company:
  key: hubspot_company_id
overrides:
"""  # overrides given to `with_overrides` start on line 7, their keys in column 5


def with_overrides(entries: str, tail: str = "") -> str:
    """A valid HubSpot file around the given `overrides:` entries (written at column 1)."""
    return HEAD + textwrap.indent(textwrap.dedent(entries).rstrip("\n") + "\n", "  ") + textwrap.dedent(tail)


def problems(text: str | bytes, path: str = "m.yaml") -> list[Problem]:
    """The problems the loader reports for one file's text."""
    with pytest.raises(MappingError) as info:
        load_mapping_text(text, path)
    return info.value.problems


def assert_problems(text: str | bytes, *expected: tuple[int, int, str]) -> None:
    """Exactly these problems, in order: line, column, and a fragment of `message; hint`."""
    got = problems(text)
    assert [(p.line, p.col) for p in got] == [(line, col) for line, col, _ in expected], "\n".join(map(str, got))
    for problem, (_, _, fragment) in zip(got, expected, strict=True):
        assert fragment in str(problem)


def case(ident: str, text: str | bytes, *expected: tuple[int, int, str]) -> object:
    """One parametrized mistake: the text and its expected problems (line, column, fragment)."""
    return pytest.param(text, list(expected), id=ident)


def rule_of(entry: str) -> OverrideRule:
    """The one rule a single override entry loads into."""
    return load_mapping_text(with_overrides(entry), "m.yaml").overrides[0]


# ---- what loads --------------------------------------------------------------------------


def test_the_v1_example_loads_into_the_model(tmp_path: Path) -> None:
    """The documented v1 example loads field for field, with positions of each feature value."""
    (tmp_path / "hubspot.yaml").write_text(V1, encoding="utf-8")
    path = str(tmp_path / "hubspot.yaml")

    def at(line: int, col: int) -> Position:
        return Position(path, line, col)

    expected = MappingFile(
        path=path,
        source=Source.HUBSPOT,
        deals=DealFilter(stages=("closedwon",), pipelines=("default",)),
        company_key="hubspot_company_id",
        overrides=(
            OverrideRule("seats", ValueType.NUMERIC, at(8, 14), source_property="seats_purchased"),
            OverrideRule(
                "SSO",
                ValueType.BOOLEAN,
                at(11, 14),
                constant="true",
                when=(Condition("sso_addon", Op.EQ, ("true",), position=at(15, 7)),),
            ),
            OverrideRule(
                "API calls",
                ValueType.NUMERIC,
                at(16, 14),
                source_property="api_call_limit",
                metric_period=MetricPeriod.CURRENT_MONTH,
                month_reset=MonthReset.FIRST_OF_MONTH,
                expires_from="contract_end_date",
            ),
        ),
        combine=Combine.MAX,
        position=at(1, 1),
    )
    assert load_mappings(tmp_path).files == (expected,)


def test_a_salesforce_file_reads_opportunities_with_record_types() -> None:
    """Salesforce files name the filter `opportunities:` and may limit record types."""
    text = with_overrides("- {feature: seats, type: numeric, from: Seats__c}").replace(
        "source: hubspot\ndeals:\n  stages: [closedwon]",
        "source: salesforce\nopportunities:\n  stages: [Closed Won]\n  record_types: [Enterprise]",
    )
    loaded = load_mapping_text(text, "sf.yaml")
    assert loaded.source is Source.SALESFORCE
    assert loaded.deals == DealFilter(stages=("Closed Won",), record_types=("Enterprise",))


def test_numeric_stage_ids_keep_their_written_text() -> None:
    """HubSpot stage ids that look like numbers stay text exactly as written."""
    loaded = load_mapping_text(
        with_overrides("- {feature: seats, type: numeric, from: x}").replace("[closedwon]", "[0012345, closedwon]"),
        "m.yaml",
    )
    assert loaded.deals.stages == ("0012345", "closedwon")


EXTENSIONS = {
    "combine": ("{feature: seats, type: numeric, from: n, combine: sum}", "combine", Combine.SUM),
    "multiply": ("{feature: seats, type: numeric, from: n, multiply: 1000}", "multiply", Decimal("1000")),
    "default": ("{feature: seats, type: numeric, from: n, default: '10'}", "default", "10"),
    "default-normalised": ("{feature: seats, type: numeric, from: n, default: 1_000}", "default", "1000"),
    "trait": ("{feature: plan, type: trait, trait: trait_tier}", "trait", "trait_tier"),
    "trait-is-the-constant": ("{feature: plan, type: trait, trait: trait_tier}", "constant", "trait_tier"),
    "trait-from": ("{feature: plan, type: trait, from: tier_trait_id}", "source_property", "tier_trait_id"),
    "expires-after-days": (
        "{feature: seats, type: numeric, from: n, expires_after_days: 180}",
        "expires_after_days",
        180,
    ),
    "starts-from": (
        "{feature: seats, type: numeric, from: n, starts_from: contract_start_date}",
        "starts_from",
        "contract_start_date",
    ),
    "drift": ("{feature: seats, type: numeric, from: n, drift: keep}", "drift", "keep"),
    "unlimited-bare": ("{feature: seats, type: unlimited}", "constant", "unlimited"),
    "unlimited-value": ("{feature: seats, type: unlimited, value: unlimited}", "constant", "unlimited"),
    "numeric-constant": ("{feature: seats, type: numeric, value: 50}", "constant", "50"),
    "quoted-numeric-constant": ("{feature: seats, type: numeric, value: '50'}", "constant", "50"),
    "boolean-constant": ("{feature: SSO, type: boolean, value: true}", "constant", "true"),
    "quoted-boolean": ("{feature: SSO, type: boolean, value: 'False'}", "constant", "false"),
    "yes-boolean": ("{feature: SSO, type: boolean, value: 'yes'}", "constant", "true"),
    "type-any-case": ("{feature: seats, type: NUMERIC, value: 5}", "value_type", ValueType.NUMERIC),
}


@pytest.mark.parametrize("entry,field,expected", EXTENSIONS.values(), ids=EXTENSIONS.keys())
def test_each_extension_loads(entry: str, field: str, expected: object) -> None:
    """Every construct of the extended language loads into its OverrideRule field."""
    assert getattr(rule_of(f"- {entry}"), field) == expected


def test_map_keys_are_trimmed_lower_case_text() -> None:
    """`map:` keys are stored trimmed and lower-cased, values as text for the type."""
    rule = rule_of("- {feature: seats, type: numeric, from: tier, map: {Gold: 100, ' Silver ': 50, Ent: unlimited}}")
    assert dict(rule.lookup or {}) == {"gold": "100", "silver": "50", "ent": "unlimited"}


def test_file_level_policies_load() -> None:
    """`combine:`, `drift:` and `on_conflict:` at the top level set the file's policies."""
    text = with_overrides(
        "- {feature: seats, type: numeric, from: n}", "combine: latest\ndrift: fail\non_conflict: adopt\n"
    )
    loaded = load_mapping_text(text, "m.yaml")
    assert (loaded.combine, loaded.drift, loaded.on_conflict) == (Combine.LATEST, "fail", "adopt")


def test_a_rules_drift_policy_is_its_own_else_its_files() -> None:
    """`drift:` reads as a DriftPolicy; `drift_for` gives a rule's own policy, else the file's."""
    text = with_overrides(
        "- {feature: seats, type: numeric, from: n, drift: KEEP}\n- {feature: sso, type: boolean, value: true}",
        "drift: fail\n",
    )
    loaded = load_mapping_text(text, "m.yaml")
    own, inherited = loaded.overrides
    assert (own.drift, inherited.drift) == (DriftPolicy.KEEP, None)
    assert [loaded.drift_for(r) for r in loaded.overrides] == [DriftPolicy.KEEP, DriftPolicy.FAIL]
    assert load_mapping_text(with_overrides("- {feature: sso, type: boolean, value: true}"), "m.yaml").drift is (
        DriftPolicy.OVERWRITE
    )


WHEN_FORMS = {
    "bool": ("{paid: true}", Condition("paid", Op.EQ, ("true",))),
    "int": ("{tier: 50}", Condition("tier", Op.EQ, ("50",))),
    "quoted": ("{tier: '50'}", Condition("tier", Op.EQ, ("50",))),
    "float-text-kept": ("{tier: 1.50}", Condition("tier", Op.EQ, ("1.50",))),
    "any-of": ("{region: [EU, 'US', 7]}", Condition("region", Op.ANY_OF, ("EU", "US", "7"))),
    "gt": ("{amount: {'>': 10}}", Condition("amount", Op.GT, number=Decimal("10"))),
    "gte": ("{amount: {'>=': 10.5}}", Condition("amount", Op.GTE, number=Decimal("10.5"))),
    "lt-quoted": ("{amount: {'<': '7'}}", Condition("amount", Op.LT, number=Decimal("7"))),
    "lte": ("{amount: {'<=': -1}}", Condition("amount", Op.LTE, number=Decimal("-1"))),
    "present": ("{owner: {present: true}}", Condition("owner", Op.PRESENT)),
    "not-present": ("{owner: {present: false}}", Condition("owner", Op.ABSENT)),
    "absent": ("{owner: {absent: true}}", Condition("owner", Op.ABSENT)),
}


@pytest.mark.parametrize("when,expected", WHEN_FORMS.values(), ids=WHEN_FORMS.keys())
def test_when_forms(when: str, expected: Condition) -> None:
    """Each `when:` form becomes its Condition, values normalised to text."""
    (condition,) = rule_of(f"- {{feature: seats, type: numeric, from: n, when: {when}}}").when
    assert condition == Condition(
        expected.prop, expected.op, expected.values, expected.number, Position("m.yaml", 7, 53)
    )


def test_several_operators_on_one_property_all_must_hold() -> None:
    """`{'>=': 10, '<': 100}` gives two conditions, a range."""
    rule = rule_of("- {feature: seats, type: numeric, from: n, when: {amount: {'>=': 10, '<': 100}}}")
    assert [(c.op, c.number) for c in rule.when] == [(Op.GTE, Decimal(10)), (Op.LT, Decimal(100))]


def test_yaml_anchors_and_aliases_are_followed() -> None:
    """A `when:` written once with an anchor can be reused with an alias."""
    rule = load_mapping_text(
        with_overrides("""\
        - feature: seats
          type: numeric
          from: n
          when: &paid {paid: 'true'}
        - {feature: SSO, type: boolean, value: true, when: *paid}
        """),
        "m.yaml",
    ).overrides[1]
    assert rule.when[0].values == ("true",)


def test_a_yaml_1_1_file_reads_yes_as_true() -> None:
    """Under a `%YAML 1.1` directive, `yes` is a boolean and becomes 'true'."""
    text = "%YAML 1.1\n---\n" + with_overrides("- {feature: SSO, type: boolean, value: yes, when: {paid: on}}")
    rule = load_mapping_text(text, "m.yaml").overrides[0]
    assert (rule.constant, rule.when[0].values) == ("true", ("true",))


def test_a_utf8_byte_order_mark_is_accepted() -> None:
    """Files saved with a UTF-8 BOM (Windows editors) load."""
    assert load_mapping_text(b"\xef\xbb\xbf" + V1.encode(), "m.yaml").source is Source.HUBSPOT


# ---- folders -----------------------------------------------------------------------------


def test_only_yaml_files_directly_in_the_folder_are_read_in_path_order(tmp_path: Path) -> None:
    """*.yaml and *.yml directly in the folder load sorted; subfolders and other files are ignored."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "broken.yaml").write_text("not: [valid", encoding="utf-8")
    (tmp_path / "README.md").write_text("# notes", encoding="utf-8")
    (tmp_path / "b.yml").write_text(V1, encoding="utf-8")
    (tmp_path / "a.yaml").write_text(V1, encoding="utf-8")
    assert [Path(f.path).name for f in load_mappings(str(tmp_path)).files] == ["a.yaml", "b.yml"]


@pytest.mark.parametrize("kind", ["missing", "empty", "a-file"])
def test_a_missing_or_empty_folder_is_one_located_problem(tmp_path: Path, kind: str) -> None:
    """No mapping files at all is one problem at folder:1:1 that says what to do."""
    folder = tmp_path / "mappings"
    if kind == "empty":
        folder.mkdir()
    elif kind == "a-file":
        folder.write_text("x", encoding="utf-8")
    with pytest.raises(MappingError) as info:
        load_mappings(folder)
    (problem,) = info.value.problems
    assert (problem.path, problem.line, problem.col) == (str(folder), 1, 1)
    assert problem.hint


def test_problems_of_every_file_are_reported_together(tmp_path: Path) -> None:
    """A broken HubSpot file and a broken Salesforce file are both reported in one error."""
    (tmp_path / "hubspot.yaml").write_text(V1.replace("type: boolean", "type: bool"), encoding="utf-8")
    (tmp_path / "salesforce.yaml").write_text("source: salesforce\n", encoding="utf-8")
    with pytest.raises(MappingError) as info:
        load_mappings(tmp_path)
    assert [(Path(p.path).name, p.line, p.col) for p in info.value.problems] == [
        ("hubspot.yaml", 12, 11),
        ("salesforce.yaml", 1, 1),
        ("salesforce.yaml", 1, 1),
        ("salesforce.yaml", 1, 1),
    ]


def test_a_ten_megabyte_file_is_one_problem_without_parsing_it(tmp_path: Path) -> None:
    """A huge file is refused at path:1:1 from its size alone."""
    (tmp_path / "huge.yaml").write_bytes(b"a: b\n" * (2 * 1024 * 1024))
    with pytest.raises(MappingError) as info:
        load_mappings(tmp_path)
    assert [(p.line, p.col, "larger than 1 MB" in p.message) for p in info.value.problems] == [(1, 1, True)]


def test_the_message_reads_path_line_col_what_and_what_to_do() -> None:
    """A problem prints as `path:line:col: what is wrong; what to do`."""
    (problem,) = problems(with_overrides("- {feature: seats, type: numeric, fom: n}"), "mappings/hubspot.yaml")
    assert str(problem) == (
        "mappings/hubspot.yaml:7:37: unknown key 'fom' in an override; did you mean 'from'? allowed keys: "
        "feature, type, from, value, map, multiply, default, trait, when, metric_period, "
        "metric_period_month_reset, expires_from, expires_after_days, starts_from, combine, drift, parse"
    )


# ---- mistakes in overrides -----------------------------------------------------------------

OVERRIDE_MISTAKES = [
    case(
        "from-and-value",
        "- feature: seats\n  type: numeric\n  from: n\n  value: 5",
        (10, 5, "give from: or value:, not both"),
    ),
    case(
        "neither-from-nor-value", "- feature: seats\n  type: numeric", (7, 5, "needs from: (a deal property) or value:")
    ),
    case("no-feature", "- type: numeric\n  value: 5", (7, 5, "has no feature:; name the Schematic feature")),
    case("no-type", "- feature: seats\n  value: 5", (7, 5, "has no type:; add type: boolean, numeric")),
    case(
        "unknown-type",
        "- feature: seats\n  type: numric\n  value: 5",
        (8, 11, "'numric' is not allowed; did you mean 'numeric'?"),
    ),
    case(
        "boolean-value-50", "- feature: SSO\n  type: boolean\n  value: 50", (9, 12, "value: '50' is not true or false")
    ),
    case(
        "numeric-value-word",
        "- feature: seats\n  type: numeric\n  value: lots",
        (9, 12, "'lots' is not a whole number"),
    ),
    case(
        "numeric-value-fraction",
        "- feature: seats\n  type: numeric\n  value: 2.5",
        (9, 12, "'2.5' is not a whole number"),
    ),
    case("numeric-unlimited", "- feature: seats\n  type: numeric\n  value: unlimited", (9, 12, "use type: unlimited")),
    case("empty-value", "- feature: seats\n  type: numeric\n  value:", (9, 5, "value: nothing is not a whole number")),
    case("empty-feature", "- feature: ''\n  type: numeric\n  value: 5", (7, 14, "feature: must be a name, not ''")),
    case(
        "feature-a-list", "- feature: [a]\n  type: numeric\n  value: 5", (7, 14, "feature: must be a name, not a list")
    ),
    case(
        "bad-metric-period",
        "- feature: api\n  type: numeric\n  from: n\n  metric_period: monthly",
        (10, 20, "use one of: all_time, current_day, current_week, current_month"),
    ),
    case(
        "reset-without-current-month",
        "- feature: api\n  type: numeric\n  from: n\n  metric_period: current_day\n"
        "  metric_period_month_reset: billing_cycle",
        (11, 5, "metric_period_month_reset: needs current_month"),
    ),
    case(
        "reset-alone",
        "- feature: api\n  type: numeric\n  from: n\n  metric_period_month_reset: billing_cycle",
        (10, 5, "add metric_period: current_month"),
    ),
    case(
        "bad-reset",
        "- feature: api\n  type: numeric\n  from: n\n  metric_period: current_month\n  metric_period_month_reset: 1st",
        (11, 32, "use one of: first_of_month, billing_cycle"),
    ),
    case(
        "period-on-boolean",
        "- feature: SSO\n  type: boolean\n  value: true\n  metric_period: all_time",
        (10, 5, "does not work with type: boolean"),
    ),
    case(
        "multiply-on-boolean",
        "- feature: SSO\n  type: boolean\n  from: n\n  multiply: 2",
        (10, 5, "multiply: does not work with type: boolean"),
    ),
    case(
        "multiply-without-from",
        "- feature: seats\n  type: numeric\n  value: 5\n  multiply: 2",
        (10, 5, "multiply: works on the from: property"),
    ),
    case(
        "multiply-zero",
        "- feature: seats\n  type: numeric\n  from: n\n  multiply: 0",
        (10, 15, "'0' is not a number above 0"),
    ),
    case(
        "map-without-from",
        "- feature: seats\n  type: numeric\n  value: 5\n  map: {a: 1}",
        (10, 5, "map: works on the from: property"),
    ),
    case(
        "map-on-unlimited",
        "- feature: seats\n  type: unlimited\n  map: {a: 1}",
        (9, 5, "map: does not work with type: unlimited"),
    ),
    case(
        "map-value-wrong-type",
        "- feature: SSO\n  type: boolean\n  from: tier\n  map: {gold: 100}",
        (10, 17, "map: gold: '100' is not true or false"),
    ),
    case(
        "map-keys-repeat-ignoring-case",
        "- feature: seats\n  type: numeric\n  from: tier\n  map: {Gold: 1, ' gold': 2}",
        (10, 20, "map: 'gold' is listed twice (first at line 10)"),
    ),
    case(
        "map-not-a-mapping",
        "- feature: seats\n  type: numeric\n  from: tier\n  map: [gold]",
        (10, 10, "map: must list deal values"),
    ),
    case(
        "default-not-a-map-key",
        "- feature: seats\n  type: numeric\n  from: tier\n  map: {gold: 100}\n  default: bronze",
        (
            11,
            14,
            "default: 'bronze' is not one of the map: keys; default: is looked up in map: like a deal value; "
            "use one of gold",
        ),
    ),
    case(
        "default-not-a-number",
        "- feature: seats\n  type: numeric\n  from: n\n  default: ten",
        (10, 14, "default: 'ten' is not a whole number"),
    ),
    case(
        "default-without-from",
        "- feature: seats\n  type: numeric\n  value: 5\n  default: 1",
        (10, 5, "default: works on the from: property"),
    ),
    case(
        "both-expiries",
        "- feature: seats\n  type: numeric\n  from: n\n  expires_from: end\n  expires_after_days: 30",
        (11, 5, "give expires_from: or expires_after_days:, not both"),
    ),
    case(
        "expiry-days-zero",
        "- feature: seats\n  type: numeric\n  from: n\n  expires_after_days: 0",
        (10, 25, "is not a whole number, 1 or more"),
    ),
    case(
        "expiry-days-fraction",
        "- feature: seats\n  type: numeric\n  from: n\n  expires_after_days: 1.5",
        (10, 25, "'1.5' is not a whole number"),
    ),
    case(
        "trait-on-numeric",
        "- feature: seats\n  type: numeric\n  from: n\n  trait: t",
        (10, 5, "trait: does not work with type: numeric"),
    ),
    case(
        "trait-and-from",
        "- feature: plan\n  type: trait\n  trait: t\n  from: n",
        (10, 5, "trait: already names the trait; remove from:"),
    ),
    case(
        "unlimited-with-from",
        "- feature: seats\n  type: unlimited\n  from: n",
        (9, 5, "from: does not work with type: unlimited"),
    ),
    case(
        "unlimited-with-number",
        "- feature: seats\n  type: unlimited\n  value: 5",
        (9, 12, "value: '5' is not 'unlimited'"),
    ),
    case(
        "bad-combine",
        "- feature: seats\n  type: numeric\n  from: n\n  combine: avg",
        (10, 14, "use one of: max, sum, latest, min"),
    ),
    case(
        "bad-drift",
        "- feature: seats\n  type: numeric\n  from: n\n  drift: ignore",
        (10, 12, "use one of: overwrite, keep, fail"),
    ),
    case(
        "unknown-key",
        "- feature: seats\n  type: numeric\n  from: n\n  expire_days: 3",
        (10, 5, "unknown key 'expire_days' in an override; did you mean 'expires_after_days'? allowed keys: feature"),
    ),
    case(
        "repeated-key",
        "- feature: seats\n  type: numeric\n  from: n\n  type: boolean",
        (10, 5, "duplicate key 'type' in an override (first at line 8)"),
    ),
    case("not-a-mapping", "- seats", (7, 5, "each override must be a mapping of settings, not 'seats'")),
    case(
        "when-not-a-mapping",
        "- feature: seats\n  type: numeric\n  from: n\n  when: paid",
        (10, 11, "when: must list deal properties"),
    ),
    case(
        "when-empty-value",
        "- feature: seats\n  type: numeric\n  from: n\n  when: {paid: }",
        (10, 12, "when: paid has no value"),
    ),
    case(
        "when-empty-list",
        "- feature: seats\n  type: numeric\n  from: n\n  when: {paid: []}",
        (10, 12, "so no deal would match"),
    ),
    case(
        "when-list-of-lists",
        "- feature: seats\n  type: numeric\n  from: n\n  when: {paid: [[a]]}",
        (10, 19, "lists a list, which is not a value"),
    ),
    case(
        "when-unknown-operator",
        "- feature: seats\n  type: numeric\n  from: n\n  when: {amount: {'=>': 10}}",
        (10, 21, "unknown key '=>' under when: amount; did you mean '>'? allowed keys: >, >=, <, <=, present, absent"),
    ),
    case(
        "when-empty-operator",
        "- feature: seats\n  type: numeric\n  from: n\n  when: {amount: {}}",
        (10, 12, "when: amount has an empty test"),
    ),
    case(
        "when-comparison-not-a-number",
        "- feature: seats\n  type: numeric\n  from: n\n  when: {amount: {'>': ten}}",
        (10, 26, "'>' in when: amount needs a number, not 'ten'"),
    ),
    case(
        "when-present-not-boolean",
        "- feature: seats\n  type: numeric\n  from: n\n  when: {owner: {present: maybe}}",
        (10, 29, "present: in when: owner needs true or false"),
    ),
    case(
        "when-repeated-property",
        "- feature: seats\n  type: numeric\n  from: n\n  when: {paid: x, paid: y}",
        (10, 21, "duplicate key 'paid' under when:"),
    ),
]


@pytest.mark.parametrize("entry,expected", OVERRIDE_MISTAKES)
def test_override_mistakes_are_located(entry: str, expected: list[tuple[int, int, str]]) -> None:
    """Each mistake inside an override is one problem at the offending key or value."""
    assert_problems(with_overrides(entry), *expected)


# ---- mistakes in the file ------------------------------------------------------------------

OK = "- {feature: seats, type: numeric, from: n}\n"
FILE_MISTAKES = [
    case(
        "no-source",
        with_overrides(OK).replace("source: hubspot\n", ""),
        (1, 1, "this file has no source:; add source: hubspot"),
    ),
    case(
        "unknown-source",
        with_overrides(OK).replace("hubspot\n", "pipedrive\n", 1),
        (1, 9, "'pipedrive' is not allowed; use one of: hubspot, salesforce"),
    ),
    case(
        "no-deals", with_overrides(OK).replace("deals:\n  stages: [closedwon]\n", ""), (1, 1, "this file has no deals:")
    ),
    case(
        "no-stages",
        with_overrides(OK).replace("  stages: [closedwon]\n", "  pipelines: [default]\n"),
        (2, 1, "deals: has no stages:"),
    ),
    case(
        "stages-not-a-list",
        with_overrides(OK).replace("[closedwon]", "closedwon"),
        (3, 11, "stages: must be a list of names, not 'closedwon'"),
    ),
    case("stages-empty", with_overrides(OK).replace("[closedwon]", "[]"), (3, 11, "not an empty list")),
    case(
        "stage-a-mapping",
        with_overrides(OK).replace("[closedwon]", "[won, {a: b}]"),
        (3, 17, "stages: must be a name, not a mapping"),
    ),
    case(
        "deals-a-list",
        with_overrides(OK).replace("deals:\n  stages: [closedwon]", "deals: [closedwon]"),
        (2, 8, "deals: must hold stages:"),
    ),
    case(
        "no-company-key",
        with_overrides(OK).replace("  key: hubspot_company_id\n", "  kee: hubspot_company_id\n"),
        (5, 3, "unknown key 'kee' under company:; did you mean 'key'?"),
    ),
    case(
        "company-without-key",
        with_overrides(OK).replace("company:\n  key: hubspot_company_id", "company: {}"),
        (4, 1, "company: has no key:"),
    ),
    case(
        "company-a-name",
        with_overrides(OK).replace("company:\n  key: hubspot_company_id", "company: hubspot_company_id"),
        (4, 10, "company: must hold key:"),
    ),
    case("no-overrides", HEAD.replace("overrides:\n", ""), (1, 1, "this file has no overrides:")),
    case("empty-overrides", HEAD + "  []\n", (7, 3, "overrides: must be a list of overrides, not an empty list")),
    case("overrides-nothing", HEAD, (6, 1, "overrides: must be a list of overrides, not nothing")),
    case(
        "misspelt-overrides",
        with_overrides(OK).replace("overrides:", "overides:"),
        (6, 1, "unknown key 'overides' at the top level; did you mean 'overrides'?"),
    ),
    case(
        "repeated-top-key",
        with_overrides(OK, "source: salesforce\n"),
        (8, 1, "duplicate key 'source' at the top level (first at line 1)"),
    ),
    case(
        "deals-in-a-salesforce-file",
        with_overrides(OK).replace("hubspot\n", "salesforce\n", 1),
        (2, 1, "a salesforce file calls this opportunities:, not deals:"),
    ),
    case(
        "opportunities-in-a-hubspot-file",
        with_overrides(OK).replace("deals:", "opportunities:"),
        (2, 1, "rename opportunities: to deals:"),
    ),
    case(
        "record-types-under-deals",
        with_overrides(OK).replace("  stages", "  record_types: [x]\n  stages"),
        (3, 3, "unknown key 'record_types' under deals:"),
    ),
    case("bad-on-conflict", with_overrides(OK, "on_conflict: overwrite\n"), (8, 14, "use one of: skip, adopt")),
    case("bad-file-combine", with_overrides(OK, "combine: average\n"), (8, 10, "use one of: max, sum, latest, min")),
    case("top-level-list", "- source: hubspot\n", (1, 1, "a mapping file must be 'key: value' settings, not a list")),
    case("top-level-text", "just some words\n", (1, 1, "not 'just some words'")),
    case("merge-key", with_overrides(OK, "<<: {combine: sum}\n"), (8, 1, "'<<' cannot be a key at the top level")),
]


@pytest.mark.parametrize("text,expected", FILE_MISTAKES)
def test_file_mistakes_are_located(text: str, expected: list[tuple[int, int, str]]) -> None:
    """Each mistake in the file's structure is one problem at the offending node or its parent."""
    assert_problems(text, *expected)


def test_three_mistakes_in_one_file_are_three_problems() -> None:
    """`validate` sees every mistake of a file in one run, not just the first."""
    text = with_overrides("- {feature: SSO, type: boolean, value: 50}\n- {feature: seats, type: numeric}\n").replace(
        "hubspot\n", "hubspt\n", 1
    )
    assert_problems(
        text,
        (1, 9, "did you mean 'hubspot'?"),
        (7, 42, "value: '50' is not true or false"),
        (8, 5, "needs from: (a deal property) or value:"),
    )


def test_every_repeated_key_of_a_file_is_reported() -> None:
    """Repeated keys are all reported, together with the file's other mistakes."""
    text = with_overrides(
        "- feature: seats\n  type: numeric\n  type: numeric\n  from: n\n  from: m\n", "source: hubspot\n"
    )
    assert_problems(
        text,
        (9, 5, "duplicate key 'type'"),
        (11, 5, "duplicate key 'from'"),
        (12, 1, "duplicate key 'source'"),
    )


# ---- files that are not YAML mapping files -------------------------------------------------------

UNREADABLE = [
    case("empty", "", (1, 1, "this file is empty")),
    case("blank", "  \n\n", (1, 1, "this file is empty")),
    case("only-comments", "# todo\n", (1, 1, "only comments")),
    case(
        "tab-indentation",
        "source: hubspot\ndeals:\n\tstages: [x]\ncompany:\n \tkey: k\n",
        (3, 1, "a tab is used for indentation; YAML indents with spaces"),
        (5, 2, "tab"),
    ),
    case("tab-after-colon", "source:\thubspot\n", (1, 8, "a tab character here")),
    case(
        "unclosed-bracket",
        "source: hubspot\ndeals:\n  stages: [closedwon\ncompany: {key: k}\n",
        (3, 11, "not closed properly"),
    ),
    case("missing-colon", "source: hubspot\ndeals\n  stages: [x]\n", (2, 1, "this line is not 'key: value'")),
    case(
        "bad-indentation",
        "deals:\n  stages: [x]\n pipelines: [y]\n",
        (3, 2, "unexpected text here; check this line's indentation"),
    ),
    case("colon-in-value", "company: {key: k}\nsource: note: x\n", (2, 13, "a ':' where none fits; quote a value")),
    case("unclosed-quote", "source: 'hubspot\ndeals: x\n", (1, 9, "a quote opened here is never closed")),
    case("two-documents", "source: hubspot\n---\nsource: x\n", (2, 1, "a second YAML document")),
    case(
        "undefined-alias",
        "source: *hub\n",
        (1, 9, "'*' starts a YAML alias here; put a value that starts with * in quotes"),
    ),
    case("reserved-character", "source: @hubspot\n", (1, 9, "'@' cannot start a value; put the value in quotes")),
    case("control-character", "source: hub\x07spot\n", (1, 12, "U+0007 is not allowed")),
    case("binary", b"\x89PNG\r\n\x1a\n\x00\x00", (1, 1, "binary file")),
    case("utf-16", "source: hubspot\n".encode("utf-16"), (1, 1, "binary file")),
    case("latin-1", "source: hubspöt\n".encode("latin-1"), (1, 1, "not UTF-8 text")),
    case("too-big-text", "#" * (MAX_BYTES + 1), (1, 1, "larger than 1 MB")),
    case("too-big-bytes", b"a" * (MAX_BYTES + 1), (1, 1, "larger than 1 MB")),
    case("too-big-in-utf8", "é" * (MAX_BYTES // 2 + 1), (1, 1, "larger than 1 MB")),
    case("deeply-nested", "a: " + "[" * 5000 + "]" * 5000 + "\n", (1, 1, "nested too deeply")),
]


@pytest.mark.parametrize("text,expected", UNREADABLE)
def test_unreadable_files_are_located_problems(text: str | bytes, expected: list[tuple[int, int, str]]) -> None:
    """Files that are not YAML, not text or not sane give short located problems, never a traceback."""
    assert_problems(text, *expected)


def test_a_recursive_alias_does_not_hang() -> None:
    """A self-referencing alias is a located problem, not an endless loop."""
    got = problems(with_overrides("- &x {feature: seats, type: numeric, from: n, when: {a: *x}}"))
    assert {(p.line, p.message.split(" under ")[-1]) for p in got} == {(7, "when: a")}


def test_a_reused_anchor_name_loads_without_a_warning() -> None:
    """Defining an anchor name twice is legal YAML; the later one wins and nothing warns."""
    loaded = load_mapping_text(
        with_overrides("- {feature: a, type: numeric, value: &n 5}\n- {feature: b, type: numeric, value: &n 6}"),
        "m.yaml",
    )
    assert [r.constant for r in loaded.overrides] == ["5", "6"]


def test_odd_line_breaks_after_a_comment_are_problems_not_a_crash() -> None:
    """Input that crashes ruamel's round-trip comment handling still gives located problems."""
    assert problems("a:   # c\n  b,\r\rc: 1\n")
    _outcome("a:   # c\n  b,\r\rc: 1\n")


# ---- never anything but MappingError ------------------------------------------------------


def _outcome(text: str | bytes) -> None:
    """Load and check the contract: a MappingFile, or MappingError with sane, non-internal problems."""
    try:
        load_mapping_text(text, "f.yaml")
    except MappingError as exc:
        assert exc.problems
        for p in exc.problems:
            assert p.path == "f.yaml" and p.line >= 1 and p.col >= 1 and p.message
            assert not p.message.startswith("internal error"), p  # the file's own text may say it


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_gives_a_mapping_or_mapping_error(text: str) -> None:
    """Arbitrary text never raises anything but MappingError."""
    _outcome(text)


@settings(max_examples=200, deadline=None)
@given(st.binary())
def test_any_bytes_give_a_mapping_or_mapping_error(data: bytes) -> None:
    """Arbitrary bytes never raise anything but MappingError."""
    _outcome(data)


YAML_BITS = st.sampled_from(
    [
        *": - [ ] { } , ' \" # *a &a !!str << ~ | ? true 50 .inf null '>' present unlimited".split(),  # noqa: SIM905 — a token list reads best as one line
        *"feature type from value when map multiply default trait numeric boolean".split(),  # noqa: SIM905 — as above
        *[" ", "  ", "\n", "\t", "\r", "\x85", "\ufeff", "%YAML 1.1\n---\n"],
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_any_edit_of_the_v1_example_gives_a_mapping_or_mapping_error(data: st.DataObject) -> None:
    """Random insertions and deletions in a valid file never raise anything but MappingError."""
    text = V1
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        if data.draw(st.booleans()):
            text = text[:at] + data.draw(st.lists(YAML_BITS, max_size=4).map("".join)) + text[at:]
        else:
            text = text[:at] + text[at + data.draw(st.integers(1, 40)) :]
    _outcome(text)


def test_parse_takes_only_text_and_needs_from() -> None:
    """`parse: number` is not a parse mode, and `parse: text` without from: has nothing to parse."""
    bad = problems(with_overrides("- {feature: seats, type: numeric, from: n, parse: number}"), "m.yaml")
    assert [p.message for p in bad] == ["parse: 'number' is not allowed"]
    lone = problems(with_overrides("- {feature: seats, type: numeric, value: 5, parse: text}"), "m.yaml")
    assert [p.message for p in lone] == ["parse: works on the from: property, and this override has no from:"]


def test_parse_text_is_kept_on_the_rule() -> None:
    """`parse: text` loads onto the rule, for the online type check."""
    loaded = load_mapping_text(with_overrides("- {feature: seats, type: numeric, from: n, parse: text}"), "m.yaml")
    assert loaded.overrides[0].parse == "text"
