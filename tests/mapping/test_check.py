"""Checks against Schematic facts: resolving features, type fit, and agreement across files."""

from __future__ import annotations

from dataclasses import replace

import pytest

from crmsync.domain import Feature, FeatureId, MetricPeriod, MonthReset
from crmsync.mapping.check import check_consistency, check_offline, check_types, resolve_features
from crmsync.mapping.loader import load_mapping_text
from crmsync.mapping.rules import MappingFile, Mappings

FEATURES = [
    Feature(FeatureId("feat_seats"), "Seats", "license", flag_key="seats"),
    Feature(FeatureId("feat_sso"), "SSO", "boolean", flag_key="sso-enabled"),
    Feature(FeatureId("feat_api"), "API calls", "event", flag_key="api-calls"),
    Feature(FeatureId("feat_plan"), "Plan", "trait"),
]


def mapping_file(
    entries: str, path: str = "mappings/hubspot.yaml", source: str = "hubspot", tail: str = ""
) -> MappingFile:
    """A loaded file with the given override entries (each a one-line flow mapping), from line 7 on."""
    head = "deals" if source == "hubspot" else "opportunities"
    text = f"source: {source}\n{head}:\n  stages: [won]\ncompany:\n  key: k\noverrides:\n"
    return load_mapping_text(text + "".join(f"  - {e}\n" for e in entries.splitlines()) + tail, path)


def mappings(*files: MappingFile) -> Mappings:
    """Mappings of the given files, in path order like the loader gives them."""
    return Mappings(tuple(sorted(files, key=lambda f: f.path)))


def resolved_for(maps: Mappings) -> dict[str, FeatureId]:
    """The feature resolution of a set of mappings that must all resolve."""
    resolved, problems = resolve_features(maps, FEATURES)
    assert problems == []
    return resolved


# ---- resolve_features ------------------------------------------------------------------


@pytest.mark.parametrize(
    "written,feature_id",
    [("feat_sso", "feat_sso"), ("sso-enabled", "feat_sso"), ("SSO", "feat_sso"), ("API calls", "feat_api")],
    ids=["by-id", "by-flag-key", "by-exact-name", "name-with-a-space"],
)
def test_features_resolve_by_id_flag_key_or_exact_name(written: str, feature_id: str) -> None:
    """A feature is found by its id, its flag key or its exact name."""
    maps = mappings(mapping_file(f"{{feature: '{written}', type: boolean, value: true}}"))
    assert resolve_features(maps, FEATURES) == ({written: FeatureId(feature_id)}, [])


def test_an_id_wins_over_a_name_that_looks_like_it() -> None:
    """When a name equals another feature's id, the id decides."""
    tricky = [*FEATURES, Feature(FeatureId("feat_x"), "feat_sso", "boolean")]
    maps = mappings(mapping_file("{feature: feat_sso, type: boolean, value: true}"))
    assert resolve_features(maps, tricky)[0] == {"feat_sso": FeatureId("feat_sso")}


def test_an_unknown_feature_is_located_with_a_suggestion() -> None:
    """A near miss is reported at the `feature:` value, with the closest name and how matching works."""
    maps = mappings(mapping_file("{feature: 'SSO ', type: boolean, value: true}"))
    resolved, problems = resolve_features(maps, FEATURES)
    assert resolved == {}
    assert [str(p) for p in problems] == [
        "mappings/hubspot.yaml:7:15: unknown feature 'SSO '; did you mean 'SSO'? "
        "features are matched by id, flag key or exact name"
    ]


def test_names_match_exactly_so_a_wrong_case_is_a_did_you_mean() -> None:
    """`api calls` is not `API calls`; the hint says which one was meant."""
    maps = mappings(mapping_file("{feature: api calls, type: numeric, from: n}"))
    (problem,) = resolve_features(maps, FEATURES)[1]
    assert "did you mean 'API calls'?" in problem.hint


def test_an_unknown_feature_with_nothing_close_still_says_how_matching_works() -> None:
    """With no near miss the hint still explains id, flag key or exact name."""
    maps = mappings(mapping_file("{feature: zebra, type: boolean, value: true}"))
    (problem,) = resolve_features(maps, FEATURES)[1]
    assert problem.message == "unknown feature 'zebra'"
    assert "features are matched by id, flag key or exact name" in problem.hint


def test_every_rule_naming_an_unknown_feature_is_reported() -> None:
    """Two rules with the same unknown feature give two located problems; known ones still resolve."""
    maps = mappings(
        mapping_file(
            "{feature: Seat, type: numeric, from: a}\n{feature: Seat, type: numeric, from: b}\n"
            "{feature: seats, type: numeric, from: c}"
        )
    )
    resolved, problems = resolve_features(maps, FEATURES)
    assert resolved == {"seats": FeatureId("feat_seats")}
    assert [(p.line, p.col) for p in problems] == [(7, 15), (8, 15)]


def test_a_name_two_features_share_is_ambiguous() -> None:
    """A name shared by two features resolves to neither, and says to use the id."""
    twins = [*FEATURES, Feature(FeatureId("feat_sso2"), "SSO", "boolean")]
    maps = mappings(mapping_file("{feature: SSO, type: boolean, value: true}"))
    resolved, (problem,) = resolve_features(maps, twins)
    assert resolved == {}
    assert "feat_sso, feat_sso2" in problem.message and "id" in problem.hint


# ---- check_types ---------------------------------------------------------------------------


FITTING = {
    "boolean-on-boolean": "{feature: SSO, type: boolean, value: true}",
    "numeric-on-license": "{feature: seats, type: numeric, from: n}",
    "unlimited-on-license": "{feature: seats, type: unlimited}",
    "trait-on-trait": "{feature: Plan, type: trait, trait: t}",
    "period-on-event": "{feature: API calls, type: numeric, from: n, metric_period: current_month}",
    "reset-on-event": "{feature: api-calls, type: numeric, from: n, metric_period: current_month, "
    "metric_period_month_reset: billing_cycle}",
    "unlimited-event": "{feature: API calls, type: unlimited, metric_period: all_time}",
}


@pytest.mark.parametrize("entry", FITTING.values(), ids=FITTING.keys())
def test_fitting_types_pass(entry: str) -> None:
    """Rules whose type fits their feature give no problems."""
    maps = mappings(mapping_file(entry))
    assert check_types(maps, FEATURES, resolved_for(maps)) == []


MISFITTING = {
    "numeric-on-boolean": ("{feature: SSO, type: numeric, value: 5}", "'SSO' is a boolean feature in Schematic"),
    "unlimited-on-boolean": ("{feature: SSO, type: unlimited}", "type: unlimited does not fit"),
    "boolean-on-license": ("{feature: seats, type: boolean, value: true}", "'Seats' is a license feature"),
    "boolean-on-trait": ("{feature: Plan, type: boolean, value: true}", "'Plan' is a trait feature"),
    "period-on-license": ("{feature: seats, type: numeric, from: n, metric_period: current_month}", "only to event"),
}


@pytest.mark.parametrize("entry,fragment", MISFITTING.values(), ids=MISFITTING.keys())
def test_misfitting_types_are_located_at_the_feature(entry: str, fragment: str) -> None:
    """A type that does not fit the Schematic feature is one problem at the rule's `feature:` value."""
    maps = mappings(mapping_file(entry))
    (problem,) = check_types(maps, FEATURES, resolved_for(maps))
    assert (problem.line, problem.col) == (7, 15)
    assert fragment in problem.message and problem.hint


def test_a_month_reset_without_current_month_is_a_problem() -> None:
    """A hand-built rule with a month reset on a daily window is caught (the loader already refuses it)."""
    file = mapping_file("{feature: API calls, type: numeric, from: n, metric_period: current_day}")
    rule = replace(file.overrides[0], month_reset=MonthReset.BILLING_CYCLE)
    maps = mappings(replace(file, overrides=(rule,)))
    (problem,) = check_types(maps, FEATURES, resolved_for(maps))
    assert "needs metric_period: current_month" in problem.message


def test_a_feature_type_crmsync_does_not_know_is_a_problem() -> None:
    """A Schematic feature type other than boolean, event, trait or license is reported, not guessed."""
    odd = [Feature(FeatureId("feat_odd"), "Odd", "quantum")]
    maps = mappings(mapping_file("{feature: Odd, type: numeric, from: n}"))
    (problem,) = check_types(maps, odd, {"Odd": FeatureId("feat_odd")})
    assert "which crmsync cannot write" in problem.message


def test_unresolved_rules_are_left_to_resolve_features() -> None:
    """A rule whose feature did not resolve gives no type problem (it already has one)."""
    maps = mappings(mapping_file("{feature: nope, type: boolean, value: true}"))
    assert check_types(maps, FEATURES, {}) == []


# ---- check_consistency ---------------------------------------------------------------------


def test_files_that_agree_pass() -> None:
    """The same feature in two files with the same type and policy is fine."""
    maps = mappings(
        mapping_file("{feature: seats, type: numeric, from: a}"),
        mapping_file("{feature: seats, type: numeric, from: b}", "mappings/salesforce.yaml", "salesforce"),
    )
    assert check_consistency(maps, resolved_for(maps)) == []


def test_two_files_that_combine_one_feature_differently_fail_naming_both() -> None:
    """A HubSpot file (max) and a Salesforce file (sum) for seats: one problem naming both places."""
    maps = mappings(
        mapping_file("{feature: seats, type: numeric, from: a}"),
        mapping_file(
            "{feature: feat_seats, type: numeric, from: b}",
            "mappings/salesforce.yaml",
            "salesforce",
            tail="combine: sum\n",
        ),
    )
    (problem,) = check_consistency(maps, resolved_for(maps))
    assert (problem.path, problem.line, problem.col) == ("mappings/salesforce.yaml", 7, 15)
    assert "combine: sum" in problem.message and "mappings/hubspot.yaml:7" in problem.message
    assert "make combine: agree" in problem.hint


def test_a_rule_level_combine_that_disagrees_with_another_file_fails() -> None:
    """An override's own `combine:` counts against the other file's file-level policy."""
    maps = mappings(
        mapping_file("{feature: seats, type: numeric, from: a}"),
        mapping_file(
            "{feature: seats, type: numeric, from: b, combine: latest}", "mappings/salesforce.yaml", "salesforce"
        ),
    )
    (problem,) = check_consistency(maps, resolved_for(maps))
    assert "latest (set on the override)" in problem.message
    assert "max (the policy of mappings/hubspot.yaml) at mappings/hubspot.yaml:7" in problem.message


def test_two_rules_giving_one_feature_different_types_fail_naming_both() -> None:
    """Numeric in one file and unlimited in another for the same feature is reported at the later one."""
    maps = mappings(
        mapping_file("{feature: seats, type: numeric, from: a}"),
        mapping_file("{feature: seats, type: unlimited}", "mappings/salesforce.yaml", "salesforce"),
    )
    (problem,) = check_consistency(maps, resolved_for(maps))
    assert problem.path == "mappings/salesforce.yaml"
    assert "type: unlimited here but numeric at mappings/hubspot.yaml:7" in problem.message


def test_rules_in_one_file_that_disagree_fail_too() -> None:
    """Disagreement inside one file is reported the same way."""
    maps = mappings(
        mapping_file("{feature: seats, type: numeric, from: a}\n{feature: seats, type: numeric, from: b, combine: sum}")
    )
    (problem,) = check_consistency(maps, resolved_for(maps))
    assert (problem.line, "mappings/hubspot.yaml:7" in problem.message) == (8, True)


def test_different_usage_windows_for_one_feature_fail() -> None:
    """Two metric periods for one event feature cannot both be Schematic's override."""
    maps = mappings(
        mapping_file(
            "{feature: API calls, type: numeric, from: a, metric_period: current_month}\n"
            "{feature: api-calls, type: numeric, from: b, metric_period: current_day}"
        )
    )
    (problem,) = check_consistency(maps, resolved_for(maps))
    assert f"metric_period: {MetricPeriod.CURRENT_DAY} here but metric_period: current_month" in problem.message


def test_unresolved_rules_are_not_compared() -> None:
    """Rules whose feature did not resolve are skipped by the consistency check."""
    maps = mappings(mapping_file("{feature: x, type: numeric, from: a}\n{feature: x, type: unlimited}"))
    assert check_consistency(maps, {}) == []


# ---- check_offline ---------------------------------------------------------------------


def test_offline_two_files_that_disagree_on_a_features_type_are_caught() -> None:
    """Without Schematic, two files naming one feature with different types is a located problem naming both."""
    hub = mapping_file("{feature: seats, type: numeric, from: seats_purchased}")
    sf = mapping_file("{feature: seats, type: unlimited}", "mappings/salesforce.yaml", "salesforce")
    problems = check_offline(mappings(hub, sf))
    assert [(p.path, p.line) for p in problems] == [("mappings/salesforce.yaml", 7)]
    assert "type: unlimited here but numeric at mappings/hubspot.yaml:7" in problems[0].message


def test_offline_two_files_that_disagree_on_a_features_policy_are_caught() -> None:
    """Without Schematic, `combine: sum` in one file and the default max in another is a located problem."""
    hub = mapping_file("{feature: seats, type: numeric, from: seats_purchased, combine: sum}")
    sf = mapping_file("{feature: seats, type: numeric, from: Seats__c}", "mappings/salesforce.yaml", "salesforce")
    problems = check_offline(mappings(hub, sf))
    assert len(problems) == 1 and "combine: max" in problems[0].message and "sum" in problems[0].message


def test_offline_files_that_agree_pass() -> None:
    """The same feature with the same type and policy in two files is no problem offline."""
    hub = mapping_file("{feature: seats, type: numeric, from: seats_purchased}")
    sf = mapping_file("{feature: seats, type: numeric, from: Seats__c}", "mappings/salesforce.yaml", "salesforce")
    assert check_offline(mappings(hub, sf)) == []


def test_an_unknown_feature_without_a_near_match_lists_candidates_and_the_command() -> None:
    """`feature: Widgets` (nothing close) lists the features and points to `crmsync schema features`."""
    maps = mappings(mapping_file("{feature: Widgets, type: boolean, value: true}"))
    _, (problem,) = resolve_features(maps, FEATURES)
    assert problem.hint == (
        "features are matched by id, flag key or exact name; they are: 'API calls', 'Plan', 'Seats', 'SSO'; "
        "crmsync schema features lists them all"
    )
