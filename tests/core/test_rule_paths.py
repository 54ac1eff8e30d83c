"""A deal error names its rule's file relative, never by the absolute (install) path: relative to
the current directory when under it, else to the mappings folder; `str(RuleRef)` keeps the full path."""

from __future__ import annotations

import pytest

from crmsync.domain import DealId, DealProblem, RuleRef, Source


@pytest.mark.parametrize(
    ("path", "root", "shown"),
    [
        pytest.param("mappings/hubspot.yaml", "/work/repo", "mappings/hubspot.yaml:10", id="given-relative-kept"),
        pytest.param("/work/repo/mappings/hubspot.yaml", "/work/repo", "mappings/hubspot.yaml:10", id="under-cwd"),
        pytest.param("/usr/lib/crmsync/mappings/hubspot.yaml", "/work/repo", "hubspot.yaml:10", id="elsewhere-name"),
        pytest.param("/opt/crmsync/mappings/hubspot.yaml", None, "hubspot.yaml:10", id="no-root-name"),
        pytest.param("../other/mappings/hubspot.yaml", "/work/repo", "hubspot.yaml:10", id="above-cwd-name"),
        pytest.param("main:mappings/hubspot.yaml", "/work/repo", "main:mappings/hubspot.yaml:10", id="git-ref-kept"),
    ],
)
def test_a_rule_is_shown_relative(path: str, root: str | None, shown: str) -> None:
    """`RuleRef.shown(root)`: as given when relative, else relative to `root` or the mappings folder."""
    assert RuleRef(path, 10, "seats").shown(root) == shown


def test_a_deal_problem_never_shows_the_absolute_path() -> None:
    """`str(DealProblem)` (stored for the console, `status`) names the file; the full path stays in `rule`."""
    rule = RuleRef("/opt/crmsync/mappings/hubspot.yaml", 10, "seats")
    problem = DealProblem(Source.HUBSPOT, DealId("1008"), "'fifty' is not a number", rule)
    assert str(problem) == "hubspot deal 1008: 'fifty' is not a number (rule hubspot.yaml:10, feature 'seats')"
    assert problem.describe("/opt/crmsync") == str(problem).replace("hubspot.yaml", "mappings/hubspot.yaml")
    assert str(rule) == "/opt/crmsync/mappings/hubspot.yaml:10"  # --json keeps the path as loaded
