"""Approving what a guard withheld: one apply of the mappings in force that no guard refuses (the mass
change allowed for this run only), for every company or the named ones, recorded with the operator who
approved it as the run's actor (trigger `approve`). serve's `POST /approve` and the console call it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import Any

from crmsync.domain import CompanyId, Trigger
from crmsync.mapping.rules import Mappings
from crmsync.service.context import Context
from crmsync.service.reconcile import Mode, Outcome, Request, reconcile


def approve(
    ctx: Context, mappings: Mappings, actor: str, companies: Collection[str] | None = None, *, lock_wait: float = 30.0
) -> Outcome:
    """Apply now what the guards withheld, for `companies` (None: all), as `actor` approved it."""
    if not actor.strip():
        raise ValueError("an approval needs the actor who gives it")
    scope = None if companies is None else frozenset(CompanyId(c) for c in companies)
    request = Request(Trigger.APPROVE, Mode.APPLY, scope=scope, allow_mass_change=True, lock_wait=lock_wait)
    return reconcile(replace(ctx, actor=actor.strip()), mappings, request)


def approval_json(outcome: Outcome, actor: str) -> dict[str, Any]:
    """What the approving operator is answered: the run, its status and counts."""
    doc: dict[str, Any] = {"run_id": outcome.run_id, "status": outcome.status.value, "actor": actor}
    if outcome.run is not None:
        doc["changes"] = outcome.run.plan.summary()
    if outcome.report is not None:
        doc["failed"] = [r.message for r in outcome.report.failed][:20]
    if outcome.refusals:
        doc["refusals"] = [r.to_json() for r in outcome.refusals]
    return doc
