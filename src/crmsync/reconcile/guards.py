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

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from crmsync.domain import Action, Change, OverrideId
from crmsync.reconcile.combine import generosity
from crmsync.reconcile.diff import DiffResult
from crmsync.reconcile.drift import DriftAction
from crmsync.reconcile.plan import Plan

FLAG = "--allow-mass-change"


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
    allow_mass_change: bool = False
    """`--allow-mass-change`: this run only, nothing is refused and no delete is withheld."""


@dataclass(frozen=True)
class Refusal:
    """One guard that refuses the plan, with its numbers."""

    affected: int
    owned: int
    reason: str  # e.g. "3 of 20 owned overrides (15%) would be deleted or downgraded; the limit is …"

    def __str__(self) -> str:
        return self.reason


def is_downgrade(change: Change) -> bool:
    """An update that grants less than the live override does (unlimited > any number; on > off)."""
    if change.action is not Action.UPDATE or change.before is None or change.after is None:
        return False
    return generosity(change.after.value) < generosity(change.before.value)


def affected(plan: Plan) -> list[Change]:
    """The changes that take something away: every delete and every downgrade."""
    return [c for c in plan.changes if c.action is Action.DELETE or is_downgrade(c)]


def check_guards(plan: Plan, owned_count: int, policy: GuardPolicy) -> list[Refusal]:
    """Every guard the plan trips (none when `policy.allow_mass_change`)."""
    if policy.allow_mass_change:
        return []
    count = len(affected(plan))
    refusals: list[Refusal] = []
    share = Fraction(count, owned_count) if owned_count else Fraction(count > 0)
    if count >= policy.min_affected and share * 100 > _exact(policy.max_percent):
        refusals.append(
            Refusal(
                count,
                owned_count,
                f"{count} of {owned_count} owned overrides ({_percent(share * 100)}%) would be deleted or "
                f"downgraded; the limit is {_percent(_exact(policy.max_percent))}% when at least "
                f"{policy.min_affected} are affected",
            )
        )
    if count > policy.max_count:
        refusals.append(
            Refusal(
                count,
                owned_count,
                f"{count} owned overrides would be deleted or downgraded; the limit is {policy.max_count} per run",
            )
        )
    return refusals


def refusal_message(refusals: Sequence[Refusal]) -> str:
    """One line naming every tripped guard, its numbers, its threshold and the flag."""
    reasons = "; and ".join(r.reason for r in refusals)
    return f"refusing to apply: {reasons}. Review with crmsync plan, then re-run with {FLAG}."


def drift_refusal(plan: Plan) -> str | None:
    """Why apply refuses a plan with drift under `drift: fail` (naming each override), or None."""
    failing = [d for d in plan.drift if d.action is DriftAction.REFUSE]
    if not failing:
        return None
    each = "; ".join(
        f"{plan.name(d.company_id)} / {plan.name(d.feature_id)} (override {d.override_id}) was "
        + (f"edited by hand: {d.last_applied.describe()} → {d.live.describe()}" if d.live else "deleted by hand")
        for d in failing
    )
    ids = " ".join(d.override_id for d in failing)
    return (
        f"refusing to apply: drift under the policy drift: fail: {each}. Put it back by hand, stop managing it "
        f"with crmsync release {ids}, or set drift: overwrite (restore) or drift: keep (respect the edit)."
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
        elif before and Fraction(count * 100, before) < _exact(policy.min_source_percent):
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
) -> tuple[DiffResult, tuple[str, ...]]:
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
    warnings = [_partial_warning(why, *withheld[source]) for source, why in partial.items()]
    warnings += [_shrunk_warning(why, *withheld[source]) for source, why in shrunk.items()]
    return DiffResult(tuple(kept), result.conflicts), tuple(warnings)


def _partial_warning(why: str, deletes: int, downgrades: int) -> str:
    text = f"{why}; no override it drives is deleted or downgraded this run"
    if deletes or downgrades:
        text += f": {_withheld(deletes, downgrades)} of overrides it drives are withheld"
    return text


def _shrunk_warning(why: str, deletes: int, downgrades: int) -> str:
    if not (deletes or downgrades):
        return f"{why}; nothing it drives would be deleted or downgraded anyway"
    return (
        f"{why}; {_withheld(deletes, downgrades)} of overrides it drives are withheld this run. If the CRM is "
        f"right, apply them with crmsync apply {FLAG}"
    )


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
