"""`crmsync plan --format markdown`: the plan as a pull-request comment. The sample plan renders as the
reviewed golden file; `plan --base` output shows the edit's changes apart from pending ones; refusals,
withheld changes and warnings are plain; a huge plan is cut to fit GitHub's 65,536 characters.

Regenerate the golden file after a reviewed change: `UPDATE_GOLDEN=1 uv run pytest tests/e2e/test_plan_markdown.py`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from crmsync.cli.demo import sample_mappings
from crmsync.cli.markdown import GITHUB_LIMIT, MARKER, plan_markdown
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import invoke

GOLDEN = Path(__file__).parent / "golden" / "plan.md"


def _sample_plan(harness: Harness) -> dict[str, Any]:
    """The sample's plan as `plan --json` prints it."""
    result = invoke(harness, "plan", "--json")
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def _change(company: str, feature: str, before: int | None, after: int | None, **extra: Any) -> dict[str, Any]:
    """A change object as `plan --json` has them."""
    action = "create" if before is None else "delete" if after is None else "update"
    value = {"value_type": "numeric", "metric_period": None, "expiration_date": None}
    return {
        "action": action,
        "company_id": f"comp_{company.lower()}",
        "company": company,
        "feature_id": f"feat_{feature.lower()}",
        "feature": feature,
        "before": {**value, "id": f"cmov_{company.lower()}", "value_numeric": before} if before is not None else None,
        "after": {
            **value,
            "value_numeric": after,
            "deals": [{"source": "hubspot", "deal_id": "1001"}],
            "rules": ["/repo/mappings/hubspot.yaml:10"],
        }
        if after is not None
        else None,
        "reason": "no deal wants it any more" if after is None else "deal hubspot 1001 via hubspot.yaml:10",
        **extra,
    }


def test_the_sample_plan_renders_as_the_reviewed_golden_file(harness: Harness) -> None:
    """The sample data's plan in markdown equals tests/e2e/golden/plan.md (override ids normalised)."""
    text = plan_markdown(_sample_plan(harness), root=str(sample_mappings().parent))
    text = re.sub(r"cmov_\w+", "cmov_…", text)  # the sandbox gives live overrides random ids
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_plan_format_markdown_prints_only_the_comment_on_stdout(harness: Harness) -> None:
    """`plan --format markdown` writes the comment (with its sticky-comment marker) alone on stdout."""
    result = invoke(harness, "plan", "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(MARKER + "\n## crmsync plan")
    assert "| `+` to create | 10 |" in result.stdout and "State database" not in result.stdout


def test_a_base_plan_shows_the_edits_changes_apart_from_pending_ones() -> None:
    """With `edit_changes` and `pending_changes` (plan --base), each is its own section, grouped by company,
    with effective entitlements and provenance in <details>; the summary counts both."""
    edit = _change("Acme", "Seats", 20, 50, effective_before={"value_type": "numeric", "value_numeric": 25},
                   effective_after={"value_type": "numeric", "value_numeric": 50})  # fmt: skip
    pending = _change("Globex", "Seats", None, 40)
    doc = {"changes": [edit, pending], "edit_changes": [edit], "pending_changes": [pending], "base": "origin/main",
           "summary": {"create": 1, "update": 1, "delete": 0}}  # fmt: skip
    text = plan_markdown(doc, root="/repo")
    edits, pendings = text.split("### Pending CRM changes")
    assert "### Changes from this edit (against `origin/main`)" in edits
    assert "#### Acme (`comp_acme`)" in edits and "Globex" not in edits
    assert "<code>~</code> update <b>Seats</b>: 20 → 50</summary>" in edits
    assert "- effective entitlement: 25 → 50" in edits and "- rules: `mappings/hubspot.yaml:10`" in edits
    assert "#### Globex (`comp_globex`)" in pendings and "Acme" not in pendings
    assert "| changes from this edit | 1 |" in text and "| pending CRM changes (not from this edit) | 1 |" in text


def test_refusals_withheld_changes_and_warnings_are_shown_plainly() -> None:
    """A refusal, a source's withheld deletes and a warning each get their own plain section."""
    doc = {
        "changes": [_change("Acme", "Seats", 20, None)],
        "refusals": [{"kind": "too_many_deletes", "message": "refusing to apply: 1 delete of 1 owned (100%)"}],
        "warnings": [{"kind": "source_shrunk", "message": "hubspot read 0 deals; 3 deletes withheld",
                      "withheld": {"delete": 3}},
                     {"kind": "no_effect", "message": "Acme / Seats: 5 is less than the plan's 10"}],
        "withheld": 3,
    }  # fmt: skip
    text = plan_markdown(doc)
    assert "### Refusals: apply would refuse\n\n- ⛔ refusing to apply: 1 delete of 1 owned (100%)" in text
    assert "### Withheld changes\n\n- hubspot read 0 deals; 3 deletes withheld" in text
    assert "### Warnings\n\n- ⚠️ Acme / Seats: 5 is less than the plan's 10" in text
    assert "| withheld by a guard | 3 |" in text and "- reason: no deal wants it any more" in text


def test_a_huge_plan_is_cut_to_fit_a_github_comment_saying_what_was_cut() -> None:
    """5,000 changes render within 65,536 characters, the summary counts them all, and the cut is said."""
    changes = [_change(f"Company{i:04d}", "Seats", None, i) for i in range(5000)]
    doc = {"changes": changes, "summary": {"create": 5000, "update": 0, "delete": 0}}
    text = plan_markdown(doc)
    assert len(text) <= GITHUB_LIMIT
    shown = text.count("<details>")
    assert 0 < shown < 5000 and "| `+` to create | 5000 |" in text
    assert f"_… and {5000 - shown} more not shown: cut to fit a GitHub comment" in text


def test_names_cannot_break_the_comment() -> None:
    """A company named with HTML or a table pipe is escaped, not rendered."""
    text = plan_markdown({"changes": [_change("<b>Evil|Co</b>", "Seats", None, 5)]})
    assert "&lt;b&gt;Evil\\|Co&lt;/b&gt;" in text and "<b>Evil" not in text


def test_expired_overrides_are_listed_with_their_day() -> None:
    """An override that expired since the last run is listed plainly, with the day it ended."""
    live = {"id": "cmov_1", "value_type": "numeric", "value_numeric": 10, "expiration_date": "2026-10-31T23:59:59Z"}
    doc = {"changes": [], "expired": [{"company_id": "comp_t", "company": "Tyrell", "feature_id": "feat_seats",
                                       "feature": "Seats", "override_id": "cmov_1", "live": live,
                                       "reason": "expired 2026-10-31"}]}  # fmt: skip
    text = plan_markdown(doc)
    assert "### Expired since the last run (left in Schematic, inert)\n\n- Tyrell / Seats: override `cmov_1` " in text
    assert "(10, expires 2026-10-31T23:59:59Z): expired 2026-10-31" in text


def test_control_and_bidi_characters_in_names_are_escaped() -> None:
    """A company name carrying a newline or a right-to-left override cannot fake a line of the comment."""
    text = plan_markdown({"changes": [_change("Evil\n### Approved\u202e", "Seats", None, 5)]})
    assert "\n### Approved" not in text and "\u202e" not in text
