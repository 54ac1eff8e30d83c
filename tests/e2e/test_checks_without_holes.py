"""The online checks have no holes: a `when:` value of an enumeration property is one of its options
(a label is answered with its internal value), and a `from:` property whose type cannot give the
override's type is a located error unless the rule says `parse: text`. Against the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Harness
from tests.e2e.scenarios import edited_sample, invoke

SSO_WHEN = '      sso_addon: ["true", "yes"]'
# (edit of hubspot.yaml: text replaced, replacement; the located message; the answer)
HOLES = {
    "stage-label-in-when": (
        SSO_WHEN, "      dealstage: Won",
        "17:7: when: dealstage: 'Won' is not one of its options", "'Won' is the label of 'ent_won'; when: compares",
    ),
    "value-not-an-option": (
        SSO_WHEN, "      support_tier: [tier_2, gold]",
        "17:7: when: support_tier: 'gold' is not one of its options",
        "the options are: tier_1 (Standard), tier_2 (Premium), tier_3 (Enterprise 24/7)",
    ),
    "enumeration-label-in-when": (
        SSO_WHEN, "      support_tier: Premium",
        "17:7: when: support_tier: 'Premium' is not one of its options", "write 'tier_2'",
    ),
    "text-to-numeric": (
        "from: seats_purchased", "from: sso_addon",
        "12:11: deal property 'sso_addon' holds string values", "or add parse: text to this rule",
    ),
    "number-to-boolean": (
        "value: true\n    when:", "from: api_call_limit\n    when:",
        "15:11: deal property 'api_call_limit' holds number values", "a boolean override needs true or false",
    ),
}  # fmt: skip


def _maps(tmp_path: Path, old: str, new: str) -> Path:
    """The sample mappings with one edit of hubspot.yaml."""
    return edited_sample(tmp_path, "hubspot.yaml", old, new, count=1)


@pytest.mark.parametrize("name", list(HOLES))
def test_each_hole_is_a_located_error_before_any_write(harness: Harness, tmp_path: Path, name: str) -> None:
    """validate and plan stop at `file:line:col` with the answer (exit 2); nothing is written."""
    old, new, where, answer = HOLES[name]
    maps = _maps(tmp_path, old, new)
    for command in ("validate", "plan"):
        result = invoke(harness, command, "--mappings", str(maps))
        assert result.exit_code == 2, result.output
        assert f"{maps / 'hubspot.yaml'}:{where}" in result.output and answer in result.output, result.output
    assert harness.sb.schematic.write_count == 0


def test_parse_text_says_a_text_property_gives_the_number(harness: Harness, tmp_path: Path) -> None:
    """`parse: text` on the rule lets a text property feed a numeric override: validate passes."""
    maps = _maps(tmp_path, "from: seats_purchased", "from: sso_addon\n    parse: text")
    result = invoke(harness, "validate", "--mappings", str(maps))
    assert result.exit_code == 0, result.output


def test_an_option_value_in_when_passes(harness: Harness, tmp_path: Path) -> None:
    """Internal values of an enumeration (any case) pass, and plan runs."""
    maps = _maps(tmp_path, SSO_WHEN, "      support_tier: [TIER_2, tier_3]\n      dealstage: ent_won")
    assert invoke(harness, "validate", "--mappings", str(maps)).exit_code == 0
    result = invoke(harness, "plan", "--mappings", str(maps))
    assert result.exit_code == 0, result.output
