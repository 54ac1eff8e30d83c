"""Checks of loaded mappings against Schematic facts, and across all mapping files.

Pure functions the service and `crmsync validate` call after `load_mappings`, once the
feature list is fetched: resolve each rule's `feature:` text to a FeatureId, check value
types against feature types, and find rules in different files that disagree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence

from crmsync.domain import Feature, FeatureId, MetricPeriod, ValueType
from crmsync.errors import Problem
from crmsync.mapping.nodes import did_you_mean
from crmsync.mapping.rules import MappingFile, Mappings, OverrideRule

MATCHED_BY = "features are matched by id, flag key or exact name"
LIMIT_TYPES = frozenset({"event", "trait", "license"})  # Schematic feature types that carry a limit


def _at(rule: OverrideRule, message: str, hint: str) -> Problem:
    """A problem at a rule's `feature:` value."""
    return Problem(rule.position.path, rule.position.line, rule.position.col, message, hint)


def _rules(mappings: Mappings) -> Iterator[tuple[MappingFile, OverrideRule]]:
    """Every rule with its file, in path and then written order."""
    for file in mappings.files:
        for rule in file.overrides:
            yield file, rule


def match_feature(text: str, features: Sequence[Feature]) -> tuple[Feature | None, str, str]:
    """The feature `text` names (by id, then flag key, then exact name), or why none does."""
    for label, matches in (
        ("id", [f for f in features if f.id == text]),
        ("flag key", [f for f in features if f.flag_key is not None and f.flag_key == text]),
        ("name", [f for f in features if f.name == text]),
    ):
        if len(matches) == 1:
            return matches[0], "", ""
        if matches:
            ids = ", ".join(sorted(f.id for f in matches))
            return None, f"{len(matches)} features have the {label} '{text}' ({ids})", "use the feature's id instead"
    guess = did_you_mean(text, [f.name for f in features] + [f.flag_key for f in features if f.flag_key])
    if guess:
        return None, f"unknown feature '{text}'", f"did you mean '{guess}'? {MATCHED_BY}"
    return None, f"unknown feature '{text}'", f"{MATCHED_BY}; {candidates([f.name for f in features], 'features')}"


def candidates(names: Sequence[str], listing: str, source: str = "") -> str:
    """`some are: a, b, c, …; crmsync schema <listing> lists them all` (what an unknown name could be)."""
    shown = sorted(dict.fromkeys(names), key=str.casefold)
    command = f"crmsync schema {listing}" + (f" --source {source}" if source else "")
    if not shown:
        return f"there are none; {command} lists them"
    few = ", ".join(f"'{n}'" for n in shown[:5]) + (", …" if len(shown) > 5 else "")
    return f"{'some' if len(shown) > 5 else 'they'} are: {few}; {command} lists them all"


def resolve_features(mappings: Mappings, features: Sequence[Feature]) -> tuple[dict[str, FeatureId], list[Problem]]:
    """Each rule's `feature:` text → FeatureId; a located problem for every rule that names none."""
    resolved: dict[str, FeatureId] = {}
    problems: list[Problem] = []
    for _, rule in _rules(mappings):
        feature, message, hint = match_feature(rule.feature, features)
        if feature is None:
            problems.append(_at(rule, message, hint))
        else:
            resolved[rule.feature] = feature.id
    return resolved, sorted(problems)


def check_types(mappings: Mappings, features: Sequence[Feature], resolved: Mapping[str, FeatureId]) -> list[Problem]:
    """Rules whose type or metric period does not fit the Schematic feature they name."""
    by_id = {f.id: f for f in features}
    problems: list[Problem] = []
    for _, rule in _rules(mappings):
        feature = by_id.get(resolved.get(rule.feature, FeatureId("")))
        if feature is not None:
            problems.extend(_type_problems(rule, feature))
    return sorted(problems)


def _type_problems(rule: OverrideRule, feature: Feature) -> Iterator[Problem]:
    """What does not fit between one rule and its feature."""
    kind = feature.feature_type.strip().lower()
    named = f"'{feature.name}' is a {kind} feature in Schematic"
    if kind != "boolean" and kind not in LIMIT_TYPES:
        yield _at(rule, f"{named}, which crmsync cannot write", "use a boolean, event, trait or license feature")
        return
    if kind == "boolean" and rule.value_type is not ValueType.BOOLEAN:
        hint = "use type: boolean with value: true, or name the limit feature you meant"
        yield _at(rule, f"{named} (on or off); type: {rule.value_type} does not fit it", hint)
    if kind != "boolean" and rule.value_type is ValueType.BOOLEAN:
        hint = "use type: numeric, unlimited or trait, or name the on/off feature you meant"
        yield _at(rule, f"{named} (it has a limit); type: boolean does not fit it", hint)
    if kind != "event" and (rule.metric_period is not None or rule.month_reset is not None):
        hint = "remove metric_period: and metric_period_month_reset:"
        yield _at(rule, f"{named}; metric_period: applies only to event (usage) features", hint)
    if rule.month_reset is not None and rule.metric_period is not MetricPeriod.CURRENT_MONTH:
        hint = "add metric_period: current_month, or remove metric_period_month_reset:"
        yield _at(rule, "metric_period_month_reset: needs metric_period: current_month", hint)


def check_consistency(mappings: Mappings, resolved: Mapping[str, FeatureId]) -> list[Problem]:
    """Rules for one feature, in any files, that disagree on value type, combine or metric period."""
    uses: dict[FeatureId, list[tuple[MappingFile, OverrideRule]]] = defaultdict(list)
    for file, rule in _rules(mappings):
        if rule.feature in resolved:
            uses[resolved[rule.feature]].append((file, rule))
    problems: list[Problem] = []
    for group in uses.values():
        first_file, first = group[0]
        for file, rule in group[1:]:
            problems.extend(_disagreements(first_file, first, file, rule))
    return sorted(problems)


def check_offline(mappings: Mappings) -> list[Problem]:
    """`check_consistency` without Schematic: rules name one feature when they write the same text
    (`validate --offline` cannot know that 'seats' and 'Seats' are one feature; online does)."""
    return check_consistency(mappings, {rule.feature: FeatureId(rule.feature) for _, rule in _rules(mappings)})


def _disagreements(
    first_file: MappingFile, first: OverrideRule, file: MappingFile, rule: OverrideRule
) -> Iterator[Problem]:
    """How a later rule for a feature disagrees with the first one; each problem names both places."""
    there = f"{first.position.path}:{first.position.line}"
    feature = f"feature '{rule.feature}'"
    if rule.value_type is not first.value_type:
        hint = "one feature takes one value type in every mapping file; make the type: agree"
        yield _at(rule, f"{feature} has type: {rule.value_type} here but {first.value_type} at {there}", hint)
    mine, theirs = file.policy_for(rule), first_file.policy_for(first)
    if mine is not theirs:
        how = f"combine: {mine} ({_origin(file, rule)}) here but {theirs} ({_origin(first_file, first)}) at {there}"
        hint = "several deals for one company and feature combine one way; make combine: agree in both places"
        yield _at(rule, f"{feature} has {how}", hint)
    if (rule.metric_period, rule.month_reset) != (first.metric_period, first.month_reset):
        hint = "one feature has one usage window; make metric_period: agree in both places"
        yield _at(rule, f"{feature} has {_period(rule)} here but {_period(first)} at {there}", hint)


def _origin(file: MappingFile, rule: OverrideRule) -> str:
    """Where a rule's combine policy was set."""
    return "set on the override" if rule.combine is not None else f"the policy of {file.path}"


def _period(rule: OverrideRule) -> str:
    """A rule's usage window in words."""
    if rule.metric_period is None:
        return "no metric_period:"
    reset = f" (reset {rule.month_reset})" if rule.month_reset is not None else ""
    return f"metric_period: {rule.metric_period}{reset}"
