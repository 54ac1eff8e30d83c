"""The plan's changes, one line each, readable at any width and stable when piped:

    + Acme Corp  Seats      50
        why: deal hubspot 1001, hubspot 1002 via hubspot.yaml:10
    ~ Globex     API calls  100000 /current_month → 250000 /current_month
        why: …

Symbol, company, feature, before → after on the first line (company and feature padded to a shared
width, capped so one long name does not push every row right); the provenance on an indented second
line, wrapped at the console's width (the terminal's, or COLUMNS when piped; 80 by default) under
its own indent. Colour comes from the console (rich honours NO_COLOR and leaves pipes plain). Names,
values and reasons come from outside: control and bidi characters are shown escaped (safe_text.py),
so a name can never print a line of its own.
"""

from __future__ import annotations

import textwrap

from rich.console import Console
from rich.text import Text

from crmsync.domain import Action, Change
from crmsync.reconcile.plan import Plan
from crmsync.safe_text import shown

SYMBOL = {Action.CREATE: ("+", "green"), Action.UPDATE: ("~", "yellow"), Action.DELETE: ("-", "red")}
WHY_INDENT = "    "
MAX_NAME = 28  # a longer company or feature name is not padded to: its row just runs longer


def change_line(plan: Plan, change: Change, company_width: int, feature_width: int) -> Text:
    """`+ Acme Corp  Seats  50`, `~ … 40 → 50`, `- … 10 → none`."""
    symbol, colour = SYMBOL[change.action]
    before = change.before.value.describe() if change.before else ""
    after = change.after.value.describe() if change.after else ""
    if change.action is Action.CREATE:
        values = after
    elif change.action is Action.DELETE:
        values = f"{before} → none"
    else:
        values = f"{before} → {after}"
    company = shown(plan.name(change.company_id)).ljust(company_width)
    feature = shown(plan.name(change.feature_id)).ljust(feature_width)
    return Text.assemble((symbol, f"bold {colour}"), " ", company, "  ", (feature, "bold"), "  ", shown(values))


def why_lines(reason: str, width: int) -> list[str]:
    """The provenance, indented, wrapped to `width` (never narrower than 40) under its own indent."""
    head = f"{WHY_INDENT}why: "
    return textwrap.wrap(
        shown(reason),
        width=max(width, 40),
        initial_indent=head,
        subsequent_indent=" " * len(head),
        break_on_hyphens=False,
        break_long_words=False,
    ) or [head.rstrip()]


def render_changes(console: Console, plan: Plan, *, use: bool = False) -> None:
    """One line per change and its provenance below it, in the plan's order; a change that does not
    change what the customer can use says so; `use`: every other change says what it changes there."""
    names = [(shown(plan.name(c.company_id)), shown(plan.name(c.feature_id))) for c in plan.changes]
    company_width = min(MAX_NAME, max((len(c) for c, _ in names), default=0))
    feature_width = min(MAX_NAME, max((len(f) for _, f in names), default=0))
    for change in plan.changes:
        console.print(change_line(plan, change, company_width, feature_width), highlight=False, crop=False)
        for line in why_lines(change.reason, console.width):
            console.print(Text(line, style="dim"), highlight=False, crop=False)
        effect = plan.effect(change)
        if effect is not None and not effect.changes_use:  # e.g. an override the plan outvotes
            console.print(Text.assemble((f"{WHY_INDENT}= ", "bold yellow"), (
                f"no effect on what the customer can use: {shown(effect.after.describe())}", "yellow")),
                highlight=False, crop=False)  # fmt: skip
        elif effect is not None and use:
            line = f"{WHY_INDENT}can use: {shown(effect.before.describe())} → {shown(effect.after.describe())}"
            console.print(Text(line, style="cyan"), highlight=False, crop=False)


def note(console: Console, symbol: str, symbol_style: str, text: str, *, style: str = "") -> None:
    """A report line under the changes (drift, conflict, pending, error, warning): the symbol, then
    the text word-wrapped at the console's width with the continuation lines indented. Printed as
    plain text: deal names and messages may hold [brackets] that are not markup. Piped, each stays one
    line (for grep)."""
    width = max(console.width, 40) - len(symbol) - 1 if console.is_terminal else 1 << 16
    lines = textwrap.wrap(
        shown(text),
        width=width,
        subsequent_indent="  ",
        break_on_hyphens=False,
        break_long_words=False,
    ) or [""]
    console.print(Text.assemble((symbol, symbol_style), " ", (lines[0], style)), highlight=False, crop=False)
    for line in lines[1:]:
        console.print(Text(" " * (len(symbol) + 1) + line, style=style), highlight=False, crop=False)
