"""The Plan: ordered changes plus what is reported without writing (conflicts, pending
companies, deal problems), its summary, its JSON form and a checksum. Pure.

Built by the service from a `DiffResult`; rendered by the CLI; executed by service/apply.
Order is fixed: deletes, creates, updates, each by company then feature.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crmsync.domain import (
    Action,
    Change,
    Conflict,
    DealProblem,
    DesiredOverride,
    LiveOverride,
    OverrideValue,
    Pending,
)
from crmsync.reconcile.diff import DiffResult

ORDER = {Action.DELETE: 0, Action.CREATE: 1, Action.UPDATE: 2}


@dataclass(frozen=True)
class Plan:
    """What an apply would do, and everything worth telling about it."""

    changes: tuple[Change, ...]
    conflicts: tuple[Conflict, ...] = ()
    pending: tuple[Pending, ...] = ()
    problems: tuple[DealProblem, ...] = ()
    warnings: tuple[str, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict)  # comp_/feat_ id → display name

    @classmethod
    def build(
        cls,
        result: DiffResult,
        *,
        pending: tuple[Pending, ...] = (),
        problems: tuple[DealProblem, ...] = (),
        warnings: tuple[str, ...] = (),
        names: Mapping[str, str] | None = None,
    ) -> Plan:
        """Order the diff's changes and attach the reports."""
        changes = tuple(sorted(result.changes, key=lambda c: (ORDER[c.action], c.company_id, c.feature_id)))
        conflicts = tuple(sorted(result.conflicts, key=lambda c: (c.company_id, c.feature_id, c.live.id)))
        problems = tuple(sorted(problems, key=lambda p: (p.source.value, p.deal_id, str(p.rule))))
        return cls(changes, conflicts, pending, problems, warnings, dict(names or {}))

    def summary(self) -> dict[str, int]:
        """How many creates, updates and deletes."""
        return {
            a.value: sum(1 for c in self.changes if c.action is a)
            for a in (Action.CREATE, Action.UPDATE, Action.DELETE)
        }

    @property
    def is_empty(self) -> bool:
        """True when applying would write nothing."""
        return not self.changes

    def name(self, ident: str) -> str:
        """A display name for a company or feature id (the id itself when unknown)."""
        return self.names.get(ident, ident)

    def to_json(self) -> dict[str, Any]:
        """The plan as one JSON-ready object (`crmsync plan --json`)."""
        return {
            "changes": [self._change_json(c) for c in self.changes],
            "summary": self.summary(),
            "conflicts": [
                {
                    "company_id": c.company_id,
                    "company": self.name(c.company_id),
                    "feature_id": c.feature_id,
                    "feature": self.name(c.feature_id),
                    "live": live_json(c.live),
                    "desired": desired_json(c.desired),
                    "reason": "an override crmsync did not create is in the way; it is left untouched",
                }
                for c in self.conflicts
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
            "warnings": list(self.warnings),
            "checksum": self.checksum(),
        }

    def checksum(self) -> str:
        """A digest of the changes and of the live state they were computed from."""
        payload = json.dumps([self._change_json(c) for c in self.changes], sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

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


def value_json(value: OverrideValue) -> dict[str, Any]:
    """Schematic's field names for a value (the create/update body fields)."""
    return {
        "value_type": value.value_type.value,
        "value_bool": value.value_bool,
        "value_numeric": value.value_numeric,
        "value_trait_id": value.value_trait_id,
        "metric_period": value.metric_period.value if value.metric_period else None,
        "metric_period_month_reset": value.month_reset.value if value.month_reset else None,
        "expiration_date": value.expiration.strftime("%Y-%m-%dT%H:%M:%SZ") if value.expiration else None,
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
