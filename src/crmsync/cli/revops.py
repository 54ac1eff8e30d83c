"""`crmsync test` and `crmsync explain`: the commands RevOps use to check and understand mappings.

`register(app, guarded, out)` adds both commands to the main typer app (cli/__init__.py).
`test` runs the cases in `<mappings>/tests/` offline through the real translation and combine
code; `explain` traces one company's overrides to deals and rules through the real service.
Exit codes: 0 ok, 1 a failing case (or an unknown company), 2 a malformed mapping or case file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Annotated

import typer

from crmsync.cli.jsonout import emit
from crmsync.cli.options import Guard, MappingsOption
from crmsync.safe_text import shown

if TYPE_CHECKING:  # the service and its edges are imported when a command runs: `--help` starts fast
    from rich.console import Console

    from crmsync.domain import RuleRef
    from crmsync.mapping.case_results import CaseResult
    from crmsync.service.explain import Explanation, FeatureStory


def register(app: typer.Typer, guarded: Guard, out: Console) -> None:
    """Add `test` and `explain` to the app; `guarded` turns crmsync errors into exit codes."""

    @app.command("test")
    def test_cases(
        mappings: MappingsOption = None,
        cases: Annotated[
            Path | None, typer.Option("--cases", help="A case file, or a folder of them (default: <mappings>/tests).")
        ] = None,
    ) -> None:
        """Run the mapping test cases offline; exit 1 if any case fails, 2 if a file is malformed."""

        def body() -> int:
            from crmsync.cli import session
            from crmsync.mapping.cases import load_cases
            from crmsync.mapping.loader import load_mappings
            from crmsync.service.case_runner import run_case

            folder = Path(mappings or session.settings().mappings)
            maps = load_mappings(folder)
            sources = maps.sources()
            files = load_cases(cases or folder / "tests", sources[0] if len(sources) == 1 else None)
            results = [run_case(case, maps, f) for f in files for case in f.cases]
            render_results(out, results)
            return 0 if all(r.passed for r in results) else 1

        guarded(body)

    @app.command("explain")
    def explain_company(
        company: Annotated[str, typer.Argument(help="A Schematic company id (comp_…) or key=value.")],
        mappings: MappingsOption = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")] = False,
    ) -> None:
        """Show why a company's overrides are what they are: deals, rules, live overrides, the plan."""

        def body() -> int:
            from crmsync.app import mapped_context
            from crmsync.cli import session
            from crmsync.service.explain import explain

            with mapped_context(mappings, session.settings()) as (ctx, maps):
                story = explain(ctx, maps, company)
            if as_json:
                emit(story.to_json())
            else:
                render_explanation(out, story)
            return 0

        guarded(body)


def render_results(console: Console, results: list[CaseResult]) -> None:
    """✓ or ✗ per case; under each failure its diff and why deals gave nothing; a summary line."""
    from rich.text import Text

    for result in results:
        case = result.case
        if result.passed:
            console.print(Text.assemble(("✓ ", "green"), case.name), highlight=False)
            continue
        console.print(Text.assemble(("✗ ", "bold red"), f"{case.position}: {case.name}"), highlight=False)
        for line in result.diff:
            console.print(f"    {line}", markup=False, highlight=False, style=_diff_style(line))
        for note in result.notes:
            console.print(f"    why: {note}", markup=False, highlight=False, style="dim")
    failed = sum(1 for r in results if not r.passed)
    word = "case" if len(results) == 1 else "cases"
    console.print(f"{len(results)} {word}: {len(results) - failed} passed, {failed} failed.", highlight=False)


def _diff_style(line: str) -> str:
    return {"-": "red", "+": "green", "~": "yellow"}.get(line[:1], "")


def render_explanation(console: Console, story: Explanation) -> None:
    """The company, then per feature: wanted (with deals), live, planned; then skips, errors, warnings."""
    c = story.company
    keys = ", ".join(f"{k}={v}" for k, v in sorted(c.keys.items())) or "no keys"
    plan = f"plan version {c.plan_version_id}" if c.plan_version_id else "no plan"
    say = _printer(console)
    say(f"{c.name} ({c.id}) · {keys} · {plan}")
    if not story.features:
        say("No counted deal gives this company an override, and it has none.")
    for feature in story.features:
        say("")
        _feature(say, story, feature)
    if story.skipped:
        say("")
        say("Deals that counted but gave a rule nothing:")
    for deal, skip in story.skipped:
        name = f' "{deal.name}"' if deal.name else ""
        say(f"  {deal.source.value} deal {deal.id}{name} → {skip.rule.feature} ({_rule(skip.rule)}): {skip.reason}")
    for problem in story.problems:
        say(f"✗ error: {problem}")
    for warning in story.warnings:
        say(f"warning: {warning}")
    _effective(say, story)


def _effective(say: Callable[[str], None], story: Explanation) -> None:
    """What the company can use of each feature: plan, add-ons and override side by side, the value
    Schematic grants and which of them grants it, and when a winning override expires."""
    if story.entitlements is None:
        return
    say("")
    if not story.entitlements.features:
        say("Effective entitlements: none (no plan, add-on or override names a feature)")
    else:
        say("Effective entitlements (Schematic grants the most generous; a boolean override always wins):")
    for e in story.entitlements.features:
        plan = e.plan.value.describe() if e.plan else "-"
        add_ons = ", ".join(f"{g.name} {g.value.describe()}" for g in e.add_ons) or "-"
        own = e.override.value.describe() if e.override else "-"
        expired = " (expired)" if e.expired_override else ""
        say(f"  {story.name(e.feature_id)}: plan {plan} · add-ons {add_ons} · override {own}{expired}")
        say(f"    can use: {e.describe()}")
    for line in story.entitlements.unread:
        say(f"warning: {line}")


def _printer(console: Console) -> Callable[[str], None]:
    """Print text as written: deal names and reasons may hold [brackets] that are not markup, and their
    control or bidi characters are shown escaped (each line stays one line; safe_text.py)."""
    return lambda text: console.print(shown(text), markup=False, highlight=False, emoji=False)


def _feature(say: Callable[[str], None], story: Explanation, feature: FeatureStory) -> None:
    """One feature: what the deals want and which deals, what is live, what the plan does."""
    from crmsync.cli.layout import SYMBOL
    from crmsync.domain import Action

    say(f"{story.name(feature.feature_id)} ({feature.feature_id})")
    if feature.desired is None:
        say("  wanted: nothing (no counted deal grants it)")
    else:
        policy = feature.contributions[0].combine.value if feature.contributions else "max"
        many = f" (combine: {policy} of {len(feature.contributions)} deals)" if len(feature.contributions) > 1 else ""
        say(f"  wanted: {feature.desired.value.describe()}{many}")
    for c in feature.contributions:
        d = c.deal
        name = f' "{d.name}"' if d.name else ""
        closed = f", closed {d.close_date:%Y-%m-%d}" if d.close_date else ""
        say(f"    {d.source.value} deal {d.id}{name}, {d.stage}{closed} → {c.value.describe()} (rule {_rule(c.rule)})")
    if not feature.live:
        say("  live: none")
    for override, owned in feature.live:
        who = "owned by crmsync" if owned else "not created by crmsync, never changed by it"
        say(f"  live: {override.id} {override.value.describe()} ({who})")
    for change in feature.changes:
        new = f" {change.after.value.describe()}" if change.after and change.action is Action.CREATE else ""
        gone = f" {change.before.id}" if change.before and change.action is Action.DELETE else ""
        say(f"  plan: {SYMBOL[change.action][0]} {change.action.value}{new}{gone}: {change.reason}")
        effect = story.change_effects.get((change.action.value, change.company_id, change.feature_id))
        if effect is not None and effect.changes_use:
            say(f"    can use: {effect.before.describe()} → {effect.after.describe()}")
        elif effect is not None:
            say(
                f"    can use: unchanged, {effect.after.describe()}: this change does not change what "
                "the customer can use"
            )
    for conflict in feature.conflicts:
        wanted = conflict.desired.value.describe()
        say(f"  plan: ! conflict: {conflict.live.id} stands in the way of {wanted}; it is left untouched")
    if not feature.changes and not feature.conflicts:
        say("  plan: no change")


def _rule(rule: RuleRef) -> str:
    """`hubspot.yaml:14`: the mapping file's name and line (the full path is in --json)."""
    return f"{PurePath(rule.path).name}:{rule.line}"
