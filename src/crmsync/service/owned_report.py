"""`crmsync owned`: what the ledger manages — each override with its last applied value and the
deals it came from (read back from the note crmsync wrote, see reconcile/note.py), with
company and feature names from Schematic. Reads only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crmsync.domain import CompanyId, OverrideValue
from crmsync.reconcile.note import note_deals
from crmsync.reconcile.plan import value_from_json, value_json
from crmsync.service.context import Context


@dataclass(frozen=True)
class OwnedEntry:
    """One override crmsync manages."""

    override_id: str | None  # None: a create whose answer has not been confirmed yet
    company_id: str
    company: str
    feature_id: str
    feature: str
    status: str  # active | intent | duplicate
    sources: tuple[str, ...]
    value: OverrideValue | None  # what crmsync last applied (None: unknown)
    deals: tuple[tuple[str, str], ...]  # (source, deal id), from the note

    def to_json(self) -> dict[str, Any]:
        """The entry as `crmsync owned --json` prints it."""
        return {
            "override_id": self.override_id,
            "company_id": self.company_id,
            "company": self.company,
            "feature_id": self.feature_id,
            "feature": self.feature,
            "status": self.status,
            "sources": list(self.sources),
            "last_applied": value_json(self.value) if self.value else None,
            "deals": [{"source": s, "id": d} for s, d in self.deals],
        }


def owned_entries(ctx: Context, scope: frozenset[CompanyId] | None = None) -> list[OwnedEntry]:
    """Every managed ledger row (or those of `scope`'s companies), by company and feature name."""
    rows = ctx.store.owned() if scope is None else ctx.store.owned_of(scope)
    companies = {c.id: c.name for c in ctx.schematic.list_companies({o.company_id for o in rows})} if rows else {}
    features = {f.id: f.name for f in ctx.schematic.list_features()} if rows else {}
    entries = [
        OwnedEntry(
            override_id=o.override_id,
            company_id=o.company_id,
            company=companies.get(o.company_id, o.company_id),
            feature_id=o.feature_id,
            feature=features.get(o.feature_id, o.feature_id),
            status=o.status.value,
            sources=o.sources,
            value=_value(o.last_applied),
            deals=note_deals(o.note),
        )
        for o in rows
    ]
    return sorted(entries, key=lambda e: (e.company.lower(), e.feature.lower(), e.override_id or ""))


def _value(fields: dict[str, Any] | Any) -> OverrideValue | None:
    try:
        return value_from_json(fields) if fields else None
    except (KeyError, ValueError):  # a row written before values were recorded
        return None
