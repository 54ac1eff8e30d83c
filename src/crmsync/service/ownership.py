"""Ownership around the diff: what the mapping files say about drift (`drift:`) and conflicts
(`on_conflict:`), the pairs released from management, adoption on conflict, drift detection,
and the ledger records an apply makes before its first write.

build_plan (service/planning.py) calls `reconcile_ownership`; apply_plan calls `record_ownership`;
`crmsync adopt` (service/manage.py) calls `adopt_into_ledger`. The decisions are pure
(reconcile/drift.py, reconcile/adopt.py); this module feeds them from the mappings and the ledger.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from crmsync.domain import CompanyId, DesiredOverride, FeatureId, LedgerState, LiveOverride, OverrideId, RuleRef
from crmsync.mapping.rules import Mappings
from crmsync.reconcile.adopt import Adoption, adoptable
from crmsync.reconcile.diff import DiffResult, diff
from crmsync.reconcile.drift import Applied, Drift, DriftAction, DriftPolicy, detect
from crmsync.reconcile.plan import Plan, value_from_json, value_json
from crmsync.store.repository import Owned, Store

Key = tuple[CompanyId, FeatureId]


@dataclass(frozen=True)
class RulePolicies:
    """Each rule's drift policy (its own, else its file's) and whether its file adopts conflicts."""

    drift_of: Mapping[RuleRef, DriftPolicy]
    adopting: frozenset[RuleRef]

    @classmethod
    def of(cls, mappings: Mappings) -> RulePolicies:
        """Read the policies of every rule of every mapping file."""
        rules = [(f, r) for f in mappings.files for r in f.overrides]
        return cls(
            {r.ref(): f.drift_for(r) for f, r in rules},
            frozenset(r.ref() for f, r in rules if f.on_conflict == "adopt"),
        )

    def drift(self, want: DesiredOverride) -> DriftPolicy:
        """The policy for a desired override: the strictest of the rules that produce it."""
        return DriftPolicy.strictest(self.drift_of.get(r, DriftPolicy.OVERWRITE) for r in want.provenance.rules)

    def adopts(self, want: DesiredOverride) -> bool:
        """Whether every file behind a desired override says `on_conflict: adopt` (the cautious reading)."""
        return bool(want.provenance.rules) and all(r in self.adopting for r in want.provenance.rules)


@dataclass(frozen=True)
class Ownership:
    """The diff after adoption and drift, with what to report."""

    result: DiffResult
    adoptions: tuple[Adoption, ...]
    drift: tuple[Drift, ...]


def held_keys(released: Iterable[Owned], owned: Iterable[Owned]) -> set[Key]:
    """Pairs released from management and not managed again since (never created while held): an
    active row frees a pair; an unconfirmed create intent does not (it may predate the release)."""
    active = {(o.company_id, o.feature_id) for o in owned if o.status == LedgerState.ACTIVE}
    return {(r.company_id, r.feature_id) for r in released} - active


def applied(owned: Iterable[Owned]) -> list[Applied]:
    """The active ledger rows whose last-applied value is known (older rows are not judged)."""
    rows: list[Applied] = []
    for o in owned:
        if o.status != LedgerState.ACTIVE or o.override_id is None or not o.last_applied:
            continue
        try:
            rows.append(Applied(o.override_id, o.company_id, o.feature_id, value_from_json(o.last_applied)))
        except (KeyError, TypeError, ValueError):
            continue  # an unreadable stored value: no drift is judged for it
    return rows


def reconcile_ownership(
    desired: Mapping[Key, DesiredOverride],
    live: Collection[LiveOverride],
    owned: Collection[Owned],
    owned_ids: Collection[OverrideId],
    held: Collection[Key],
    policies: RulePolicies,
    *,
    scope: Collection[CompanyId] | None,
    keep: Collection[OverrideId],
    now: datetime,
) -> Ownership:
    """Diff, adopting conflicts where the mapping says so (the adopted override is then owned:
    updated if its value differs), and find the adoptable and the drifted overrides."""
    result = diff(desired, live, owned_ids, scope=scope, keep=keep, now=now)
    owned_keys = {(o.company_id, o.feature_id) for o in live if o.id in owned_ids}
    adoptions = adoptable(result.conflicts, owned_keys, auto=policies.adopts, held=held)
    auto = {a.live.id for a in adoptions if a.auto}
    if auto:
        result = diff(desired, live, {*owned_ids, *auto}, scope=scope, keep=keep, now=now)
    drift = detect(applied(owned), live, desired, policies.drift, scope=scope, keep=keep, now=now)
    return Ownership(result, adoptions, drift)


def sources_of(want: DesiredOverride) -> list[str]:
    """The CRMs whose deals drive a desired override (the ledger's `sources`)."""
    return sorted({source.value for source, _ in want.provenance.deals})


def adopt_into_ledger(store: Store, adoption: Adoption) -> None:
    """Record an unowned override as crmsync's, with its current value as last applied."""
    live = adoption.live
    store.adopt(live.id, live.company_id, live.feature_id, sources_of(adoption.desired), value_json(live.value))


def record_ownership(store: Store, plan: Plan) -> list[str]:
    """Before an apply's first write: record its adoptions and drift releases, close the ledger
    rows of overrides deleted by hand (re-created or forgotten). One line per ledger-only record."""
    for adoption in plan.adoptions:
        if adoption.auto:
            adopt_into_ledger(store, adoption)
    for d in plan.drift:
        if d.action is DriftAction.RELEASE:
            store.release([d.override_id])
        elif d.action in (DriftAction.FORGET, DriftAction.RECREATE):
            store.record_delete(d.override_id)
    return plan.ledger_only()
