"""Output that cannot be forged: names, values and reasons from outside are shown with control
characters, ANSI escapes and bidi overrides escaped, so the rendered plan has exactly one line per
change (and one why line each) whatever the names hold. Pure: rendering into a string, no I/O."""

from __future__ import annotations

import unicodedata
from io import StringIO

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from crmsync.cli.render import render_plan
from crmsync.domain import Action, Change, CompanyId, FeatureId
from crmsync.logs import show_safely
from crmsync.reconcile.plan import Plan
from crmsync.safe_text import UNSAFE_CATEGORIES, shown
from tests.core.builders import desired, live, numeric

HOSTILE = [
    "\n",
    "\r",
    "\x1b[31m",
    "\x1b]8;;http://x\x07",
    "\x1b[2K\r",
    "\u202e",
    "\u202a",
    "\u2066",
    "\u2069",
    "\u200e",
    "\u200f",
    "\u061c",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\x00",
    "\x7f",
    "\x85",
    "\x9b",
    "\t",
    "- Acme Corp  Seats  20 → (deleted)",
    "[bold]",
]
hostile_text = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=6)), max_size=6).map("".join)


def unsafe_left(text: str) -> list[str]:
    """The characters of `text` that a terminal would act on (line breaks between lines excepted)."""
    return [c for c in text.replace("\n", "") if unicodedata.category(c) in UNSAFE_CATEGORIES]


def rendered(plan: Plan) -> list[str]:
    """The plan as a piped, uncoloured terminal shows it, one entry per printed line."""
    out = StringIO()
    render_plan(Console(file=out, width=100_000, color_system=None, force_terminal=False), plan)
    return out.getvalue().split("\n")[:-1]


@given(st.lists(st.tuples(hostile_text, hostile_text, hostile_text), min_size=1, max_size=4, unique_by=lambda t: t[0]))
def test_a_rendered_plan_has_one_line_per_change_whatever_the_names_hold(named: list[tuple[str, str, str]]) -> None:
    """Company names, feature names and reasons full of newlines, ANSI escapes and bidi overrides: each
    change is one line plus one why line, then the summary, and no control or bidi character is left."""
    changes, names = [], {}
    for n, (company, feature, reason) in enumerate(named):
        cid, fid = CompanyId(f"comp_{n}"), FeatureId(f"feat_{n}")
        names |= {cid: company, fid: feature}
        before = live(f"cmov_{n}", cid, fid, numeric(1))
        changes.append(Change(Action.UPDATE, cid, fid, before, desired(cid, fid, numeric(2)), reason or "r"))
    lines = rendered(Plan(tuple(changes), names=names))
    assert len(lines) == 2 * len(changes) + 1, lines
    assert all(line.startswith("~ ") for line in lines[0:-1:2]), lines
    assert all(line.startswith("    why: ") for line in lines[1:-1:2]), lines
    assert unsafe_left("\n".join(lines)) == []


@given(hostile_text)
def test_shown_leaves_no_unsafe_character_and_keeps_safe_text_as_it_is(text: str) -> None:
    """Every control, format (bidi) and separator character is escaped; a safe text comes back unchanged."""
    assert unsafe_left(shown(text)) == [] and "\n" not in shown(text)
    if not any(unicodedata.category(c) in UNSAFE_CATEGORIES for c in text):
        assert shown(text) == text


def test_a_forged_plan_line_in_a_company_name_stays_on_its_line() -> None:
    """The issue's case: a company named `Acme\\n- Acme Corp  Seats  20 → (deleted)` prints no line of its own."""
    cid, fid = CompanyId("comp_1"), FeatureId("feat_1")
    change = Change(Action.CREATE, cid, fid, None, desired(cid, fid, numeric(5)), "deal hubspot 1")
    lines = rendered(Plan((change,), names={cid: "Acme\n- Acme Corp  Seats  20 → (deleted)", fid: "Seats\u202e"}))
    assert lines[0] == "+ Acme\\n- Acme Corp  Seats  20 → (deleted)  Seats\\u202e  5"
    assert not any(line.startswith("- ") for line in lines)


def test_the_console_log_renderer_escapes_outside_text_but_keeps_a_tracebacks_lines() -> None:
    """A log field holding an ANSI escape and a newline is escaped; a traceback keeps its line breaks."""
    event = show_safely(None, "info", {"event": "change", "company": "Acme\x1b[2J\nFAKE", "exception": "a\nb\x1b"})
    assert event == {"event": "change", "company": "Acme\\x1b[2J\\nFAKE", "exception": "a\nb\\x1b"}


def test_a_slack_failure_message_keeps_one_line_per_error() -> None:
    """An error quoting a name with a newline and an escape stays on its bullet line in the alert."""
    from crmsync.domain import RunStatus, Trigger
    from crmsync.serving.alerts import RunFacts, failure_text

    facts = RunFacts(7, Trigger.WEBHOOK, RunStatus.FAILED, {"failed": 1}, ("Acme\n• forged\x1b[31m: 503",))
    lines = failure_text(facts).split("\n")
    assert lines[1:] == ["• Acme\\n• forged\\x1b[31m: 503"]
