"""Blast-radius guards: the arithmetic that decides whether a plan may be applied. Pure.

Two kinds, as octoDNS's `raise_if_unsafe`: a plan that deletes or downgrades too many owned
overrides is *refused* (`check_guards`; `--allow-mass-change` overrides once); a source that
suddenly returns no deals, or far fewer than at its last successful apply, has its deletes
*withheld* (`shrunk_sources`, `withhold_deletes`): they are dropped from the plan with a warning,
and so are its downgrades (as those of a source whose read was partial).
A plan with drift under `drift: fail` is refused too (`drift_refusal`), whatever the flag says.
The service calls these from build_plan and before every apply; settings hold the `GuardPolicy`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from fractions import Fraction

from crmsync.domain import Action, Change, OverrideId
from crmsync.reconcile.combine import generosity
from crmsync.reconcile.diff import DiffResult
from crmsync.reconcile.drift import DriftAction
from crmsync.reconcile.entitlements import LIMITS, is_more_generous
from crmsync.reconcile.notices import PlanWarning, Refusal, RefusalKind, WarningKind
from crmsync.reconcile.plan import Plan


@dataclass(frozen=True)
class GuardPolicy:
    """The thresholds of the guards (`[guards]` in config/crmsync.toml)."""

    max_percent: float = 10.0
    """Refuse when deletes + downgrades exceed this share (in %) of the owned overrides…"""
    min_affected: int = 5
    """…but only when at least this many are affected (4 of 10 is a normal day)."""
    max_count: int = 50
    """Refuse when deletes + downgrades exceed this many, whatever the share."""
    min_source_percent: float = 50.0
    """A source returning fewer deals than this share (in %) of its last successful apply, or none
    at all, has every delete it drives withheld this run."""
    min_existing: int = 10
    """The percentages (`max_percent`, `min_source_percent`) apply only from this many owned
    overrides, or deals at the last apply, up (octoDNS's floor): 2 of a small customer's 3 lost
    deals are a normal day, not a mass change."""
    window_seconds: float = 3600.0
    """The deletes and downgrades of every run (scoped or full, any process) in this many seconds
    count together against `max_percent` and `max_count`: one company at a time adds up. 0: each run alone."""
    allow_mass_change: bool = False
    """This run only (the CLI's `--allow-mass-change`): nothing is refused and no delete is withheld."""


def is_downgrade(change: Change) -> bool:
    """An update that grants less than the live override does: on > off, and limits measured as the
    entitlement warnings and Schematic measure them (unlimited above any number; event limits per
    day: a week's ÷ 7, a month's ÷ 30), so 100/day → 1,000/month (33/day) is a downgrade."""
    if change.action is not Action.UPDATE or change.before is None or change.after is None:
        return False
    before, after = change.before.value, change.after.value
    if before.value_type in LIMITS and after.value_type in LIMITS:
        return is_more_generous(before, after)
    return generosity(after) < generosity(before)


def affected(plan: Plan) -> list[Change]:
    """The changes that take something away: every delete and every downgrade."""
    return [c for c in plan.changes if c.action is Action.DELETE or is_downgrade(c)]


def check_guards(plan: Plan, owned_count: int, policy: GuardPolicy) -> list[Refusal]:
    """Every guard the plan trips (none when `policy.allow_mass_change`)."""
    if policy.allow_mass_change:
        return []
    return judge(len(affected(plan)), owned_count, policy)


def judge(count: int, owned_count: int, policy: GuardPolicy, per: str = "per run") -> list[Refusal]:
    """The mass-change refusals for `count` deletes and downgrades of `owned_count` owned overrides."""
    refusals: list[Refusal] = []
    share = Fraction(count, owned_count) if owned_count else Fraction(count > 0)
    above_floor = owned_count >= policy.min_existing
    if above_floor and count >= policy.min_affected and share * 100 > _exact(policy.max_percent):
        refusals.append(
            Refusal(
                RefusalKind.MASS_CHANGE_SHARE,
                f"{count} of {owned_count} owned overrides ({_percent(share * 100)}%) would be deleted or "
                f"downgraded; the limit is {_percent(_exact(policy.max_percent))}% when at least "
                f"{policy.min_affected} are affected",
                count,
                owned_count,
                policy.max_percent,
            )
        )
    if count > policy.max_count:
        refusals.append(
            Refusal(
                RefusalKind.MASS_CHANGE_COUNT,
                f"{count} owned overrides would be deleted or downgraded; the limit is {policy.max_count} {per}",
                count,
                owned_count,
                policy.max_count,
            )
        )
    return refusals


def drift_refusal(plan: Plan) -> Refusal | None:
    """Why apply refuses a plan with drift under `drift: fail` (naming each override), or None."""
    failing = [d for d in plan.drift if d.action is DriftAction.REFUSE]
    if not failing:
        return None
    each = "; ".join(
        f"{plan.name(d.company_id)} / {plan.name(d.feature_id)} (override {d.override_id}) was "
        + (f"edited by hand: {d.last_applied.describe()} → {d.live.describe()}" if d.live else "deleted by hand")
        for d in failing
    )
    return Refusal(
        RefusalKind.DRIFT_FAIL,
        f"drift under the policy drift: fail: {each}",
        affected=len(failing),
        overrides=tuple(d.override_id for d in failing),
    )


def shrunk_sources(counts: Mapping[str, int], last: Mapping[str, int], policy: GuardPolicy) -> dict[str, str]:
    """Sources whose deal count is suspicious, each with why: none at all, or under
    `min_source_percent` of the count of its last successful apply."""
    if policy.allow_mass_change:
        return {}
    shrunk: dict[str, str] = {}
    for source, count in sorted(counts.items()):
        before = last.get(source)
        if count == 0:
            was = f" (the last successful apply read {before})" if before else ""
            shrunk[source] = f"{source} returned no deals{was}"
        elif (
            before
            and before >= policy.min_existing
            and Fraction(count * 100, before) < _exact(policy.min_source_percent)
        ):
            shrunk[source] = (
                f"{source} returned {count} deals, under {_percent(_exact(policy.min_source_percent))}% of the "
                f"{before} of the last successful apply"
            )
    return shrunk


def withhold_deletes(
    result: DiffResult,
    sources: Mapping[OverrideId, Collection[str]],
    shrunk: Mapping[str, str],
    partial: Mapping[str, str] | None = None,
) -> tuple[DiffResult, tuple[PlanWarning, ...]]:
    """Drop what a suspicious read would take away from the owned overrides its source drives (by
    their ledger `sources`): the deletes and the downgrades. `shrunk` and `partial` (a read that
    ended early: the diff already keeps its deletes) map each such source to why; one warning each."""
    partial = partial or {}
    suspect = {**shrunk, **partial}
    if not suspect:
        return result, ()
    kept: list[Change] = []
    withheld = {source: [0, 0] for source in suspect}  # deletes, downgrades
    for change in result.changes:
        drivers = set(sources.get(change.before.id, ())) if change.before else set()
        hit = sorted(drivers.intersection(suspect))
        kind = 0 if change.action is Action.DELETE else 1 if is_downgrade(change) else None
        if kind is None or not hit:
            kept.append(change)
            continue
        for source in hit:
            withheld[source][kind] += 1
    warnings = [_partial_warning(source, why, *withheld[source]) for source, why in partial.items()]
    warnings += [_shrunk_warning(source, why, *withheld[source]) for source, why in shrunk.items()]
    return DiffResult(tuple(kept), result.conflicts), tuple(warnings)


def _partial_warning(source: str, why: str, deletes: int, downgrades: int) -> PlanWarning:
    text = f"{why}; no override it drives is deleted or downgraded this run"
    if deletes or downgrades:
        text += f": {_withheld(deletes, downgrades)} of overrides it drives are withheld"
    return PlanWarning(WarningKind.PARTIAL_READ, text, source, _counts(deletes, downgrades))


def _shrunk_warning(source: str, why: str, deletes: int, downgrades: int) -> PlanWarning:
    if not (deletes or downgrades):
        text = f"{why}; nothing it drives would be deleted or downgraded anyway"
    else:
        text = f"{why}; {_withheld(deletes, downgrades)} of overrides it drives are withheld this run"
    return PlanWarning(WarningKind.SOURCE_SHRUNK, text, source, _counts(deletes, downgrades))


def _counts(deletes: int, downgrades: int) -> dict[str, int]:
    return {k: n for k, n in (("delete", deletes), ("downgrade", downgrades)) if n}


def _withheld(deletes: int, downgrades: int) -> str:
    """`2 delete(s)`, `1 downgrade(s)`, `2 delete(s) and 1 downgrade(s)`."""
    parts = [f"{n} {what}(s)" for n, what in ((deletes, "delete"), (downgrades, "downgrade")) if n]
    return " and ".join(parts)


def baseline_counts(counts: Mapping[str, int], last: Mapping[str, int], policy: GuardPolicy) -> dict[str, int]:
    """The deal counts to remember after a successful apply: a shrunk source keeps its old
    count (else its deletes would go through next run), unless the change was allowed."""
    shrunk = shrunk_sources(counts, last, policy)
    return {source: count for source, count in counts.items() if source not in shrunk}


def _exact(value: float) -> Fraction:
    """A setting as an exact fraction (10.0 → 10, 12.5 → 25/2), so boundaries compare exactly."""
    return Fraction(str(value))


def _percent(value: Fraction) -> str:
    """15 → '15', 100/3 → '33.3'."""
    text = f"{float(value):.1f}"
    return text[:-2] if text.endswith(".0") else text
