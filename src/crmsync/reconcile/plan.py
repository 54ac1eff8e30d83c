"""The Plan: ordered changes plus what is reported without writing (conflicts, pending
companies, deal problems, drift, adoptable overrides), its summary, its JSON form and a checksum. Pure.

Built by the service from a `DiffResult`; rendered by the CLI; executed by service/apply.
Order is fixed: deletes, creates, updates, each by company then feature.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crmsync.domain import (
    TIME_FORMAT,
    Action,
    Change,
    Conflict,
    DealProblem,
    DesiredOverride,
    LiveOverride,
    MetricPeriod,
    MonthReset,
    OverrideValue,
    Pending,
    ValueType,
)
from crmsync.reconcile.adopt import Adoption
from crmsync.reconcile.diff import DiffResult
from crmsync.reconcile.drift import LEDGER_ONLY, Drift
from crmsync.reconcile.notices import PlanWarning

if TYPE_CHECKING:  # effective.py builds on this module's JSON helpers
    from crmsync.reconcile.effective import ChangeEffect, EffectKey

ORDER = {Action.DELETE: 0, Action.CREATE: 1, Action.UPDATE: 2}


@dataclass(frozen=True)
class Plan:
    """What an apply would do, and everything worth telling about it."""

    changes: tuple[Change, ...]
    conflicts: tuple[Conflict, ...] = ()
    pending: tuple[Pending, ...] = ()
    problems: tuple[DealProblem, ...] = ()
    warnings: tuple[PlanWarning, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict)  # comp_/feat_ id → display name
    drift: tuple[Drift, ...] = ()  # owned overrides changed or deleted by hand, and what this run does
    adoptions: tuple[Adoption, ...] = ()  # unowned overrides crmsync could take over (`auto`: apply does)
    released: tuple[Conflict, ...] = ()  # overrides released by `crmsync release` where deals want one: not managed
    expired: tuple[LiveOverride, ...] = ()  # owned overrides that expired since the last run: left, named once
    # What the customer can use before and after each change (reconcile/effective.py); empty when unknown
    effects: Mapping[EffectKey, ChangeEffect] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        result: DiffResult,
        *,
        pending: tuple[Pending, ...] = (),
        problems: tuple[DealProblem, ...] = (),
        warnings: tuple[PlanWarning, ...] = (),
        names: Mapping[str, str] | None = None,
        drift: tuple[Drift, ...] = (),
        adoptions: tuple[Adoption, ...] = (),
        released: tuple[Conflict, ...] = (),
        expired: tuple[LiveOverride, ...] = (),
    ) -> Plan:
        """Order the diff's changes and attach the reports."""
        changes = tuple(sorted(result.changes, key=lambda c: (ORDER[c.action], c.company_id, c.feature_id)))
        conflicts = tuple(sorted(result.conflicts, key=lambda c: (c.company_id, c.feature_id, c.live.id)))
        problems = tuple(sorted(problems, key=lambda p: (p.source.value, p.deal_id, str(p.rule))))
        drift = tuple(sorted(drift, key=lambda d: (d.company_id, d.feature_id, d.override_id)))
        adoptions = tuple(sorted(adoptions, key=lambda a: (a.key, a.live.id)))
        released = tuple(sorted(released, key=lambda c: (c.company_id, c.feature_id, c.live.id)))
        return cls(
            changes, conflicts, pending, problems, warnings, dict(names or {}), drift, adoptions, released, expired
        )

    def summary(self) -> dict[str, int]:
        """How many creates, updates and deletes."""
        return {
            a.value: sum(1 for c in self.changes if c.action is a)
            for a in (Action.CREATE, Action.UPDATE, Action.DELETE)
        }

    @property
    def is_empty(self) -> bool:
        """True when applying would write nothing: no change, and nothing to record in the ledger."""
        return not self.changes and not self.ledger_only()

    def ledger_only(self) -> list[str]:
        """What an apply records in the ledger without a write to Schematic: adoptions by
        `on_conflict: adopt`, drift released or forgotten (one line each)."""
        adopted = [(a.live.id, a.key, "adopt") for a in self.adoptions if a.auto]
        drifted = [(d.override_id, d.key, d.action.value) for d in self.drift if d.action in LEDGER_ONLY]
        return [f"{verb} {ident} ({self.name(c)} / {self.name(f)})" for ident, (c, f), verb in adopted + drifted]

    def name(self, ident: str) -> str:
        """A display name for a company or feature id (the id itself when unknown)."""
        return self.names.get(ident, ident)

    def to_json(self) -> dict[str, Any]:
        """The plan as one JSON-ready object (`crmsync plan --json`)."""
        changes = [self._change_json(c) for c in self.changes]
        return {
            "changes": [{**j, **self.effect_json(c)} for j, c in zip(changes, self.changes, strict=True)],
            "summary": self.summary(),
            "conflicts": [
                self._conflict_json(c, "an override crmsync did not create is in the way; it is left untouched")
                for c in self.conflicts
            ],
            "released": [
                self._conflict_json(c, "released with crmsync release: not managed; crmsync adopt takes it back")
                for c in self.released
            ],
            "pending": [
                {
                    "company_key": p.company.name,
                    "company_key_value": p.company.value,
                    "deals": [{"source": s.value, "deal_id": d} for s, d in p.deals],
                    "reason": "no Schematic company has this key yet; retried next run",
                }
                for p in self.pending
            ],
            "errors": [
                {
                    "source": p.source.value,
                    "deal_id": p.deal_id,
                    "message": p.message,
                    "rule": str(p.rule) if p.rule else None,
                    "feature": p.rule.feature if p.rule else None,
                }
                for p in self.problems
            ],
            "warnings": [w.to_json() for w in self.warnings],
            "drift": [self._drift_json(d) for d in self.drift],
            "adoptable": [self._adoption_json(a) for a in self.adoptions],
            "expired": [self._expired_json(o) for o in self.expired],
            "checksum": _checksum(changes),
        }

    def effect(self, change: Change) -> ChangeEffect | None:
        """What the customer can use before and after `change`, when the plan knows it."""
        return self.effects.get((change.action.value, change.company_id, change.feature_id))

    def effect_json(self, change: Change) -> dict[str, Any]:
        """`effective_before` / `effective_after` of a change (None each when not known); not in the checksum:
        it describes the plan, a saved plan is applied by its changes."""
        effect = self.effect(change)
        if effect is None:
            return {"effective_before": None, "effective_after": None, "changes_effective": None}
        return effect.to_json()

    def checksum(self) -> str:
        """A digest of the changes and of the live state they were computed from."""
        return _checksum([self._change_json(c) for c in self.changes])

    def _conflict_json(self, c: Conflict, reason: str) -> dict[str, Any]:
        """An override in the way (or released), with names, its live and wanted values and why."""
        return {
            "company_id": c.company_id,
            "company": self.name(c.company_id),
            "feature_id": c.feature_id,
            "feature": self.name(c.feature_id),
            "live": live_json(c.live),
            "desired": desired_json(c.desired),
            "reason": reason,
        }

    def _change_json(self, change: Change) -> dict[str, Any]:
        return {
            "action": change.action.value,
            "company_id": change.company_id,
            "company": self.name(change.company_id),
            "feature_id": change.feature_id,
            "feature": self.name(change.feature_id),
            "before": live_json(change.before) if change.before else None,
            "after": desired_json(change.after) if change.after else None,
            "reason": change.reason,
        }

    def _drift_json(self, d: Drift) -> dict[str, Any]:
        return {
            "company_id": d.company_id,
            "company": self.name(d.company_id),
            "feature_id": d.feature_id,
            "feature": self.name(d.feature_id),
            "override_id": d.override_id,
            "last_applied": value_json(d.last_applied),
            "live": value_json(d.live) if d.live is not None else None,
            "policy": d.policy.value,
            "action": d.action.value,
            "reason": d.describe(),
        }

    def _expired_json(self, o: LiveOverride) -> dict[str, Any]:
        ended = o.value.expiration
        return {
            "company_id": o.company_id,
            "company": self.name(o.company_id),
            "feature_id": o.feature_id,
            "feature": self.name(o.feature_id),
            "override_id": o.id,
            "live": live_json(o),
            "reason": f"expired {ended:%Y-%m-%d}" if ended else "expired",
        }

    def _adoption_json(self, a: Adoption) -> dict[str, Any]:
        return {
            "company_id": a.live.company_id,
            "company": self.name(a.live.company_id),
            "feature_id": a.live.feature_id,
            "feature": self.name(a.live.feature_id),
            "override_id": a.live.id,
            "live": live_json(a.live),
            "desired": desired_json(a.desired),
            "value_matches": a.value_matches,
            "auto": a.auto,
        }


def _checksum(changes: list[dict[str, Any]]) -> str:
    """The digest of the changes' JSON (`Plan.checksum`)."""
    payload = json.dumps(changes, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def value_json(value: OverrideValue) -> dict[str, Any]:
    """Schematic's field names for a value (the create/update body fields)."""
    return {
        "value_type": value.value_type.value,
        "value_bool": value.value_bool,
        "value_numeric": value.value_numeric,
        "value_trait_id": value.value_trait_id,
        "metric_period": value.metric_period.value if value.metric_period else None,
        "metric_period_month_reset": value.month_reset.value if value.month_reset else None,
        "expiration_date": value.expiration.strftime(TIME_FORMAT) if value.expiration else None,
    }


def live_json(override: LiveOverride) -> dict[str, Any]:
    """A live override for the plan's JSON."""
    return {"id": override.id, **value_json(override.value)}


def desired_json(want: DesiredOverride) -> dict[str, Any]:
    """A desired override for the plan's JSON, with its provenance."""
    return {
        **value_json(want.value),
        "deals": [{"source": s.value, "deal_id": d} for s, d in want.provenance.deals],
        "rules": [str(r) for r in want.provenance.rules],
    }


def value_from_json(fields: Mapping[str, Any]) -> OverrideValue:
    """The inverse of `value_json` (ledger values, saved plans)."""
    period, reset = fields.get("metric_period"), fields.get("metric_period_month_reset")
    return OverrideValue(
        value_type=ValueType(fields["value_type"]),
        value_bool=fields.get("value_bool"),
        value_numeric=fields.get("value_numeric"),
        value_trait_id=fields.get("value_trait_id"),
        metric_period=MetricPeriod(period) if period else None,
        month_reset=MonthReset(reset) if reset else None,
        expiration=parse_time(fields.get("expiration_date")),
    )


def parse_time(text: str | None) -> datetime | None:
    """A date-time of the plan's JSON (`TIME_FORMAT`, or ISO 8601 with an offset); None for none."""
    return datetime.fromisoformat(text) if text else None
