"""`crmsync owned`: what the ledger manages — each override with its last applied value and the
deals it came from (read back from the note crmsync wrote, see service/apply.py `make_note`), with
company and feature names from Schematic. Reads only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from crmsync.domain import CompanyId, OverrideValue
from crmsync.reconcile.plan import value_from_json, value_json
from crmsync.service.sync import Context
from crmsync.store.notes import ledger_notes

NOTE_DEALS = re.compile(r"^Managed by crmsync from (?P<deals>.*?); rule ")
DEALS = re.compile(r"(?P<source>[a-z_]+) deals? (?P<ids>[^;]+)")


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


def deals_of_note(note: str) -> tuple[tuple[str, str], ...]:
    """The (source, deal id) pairs a crmsync note names: `Managed by crmsync from hubspot deals 1001,
    1014; salesforce deal 006…; rule …` → hubspot 1001, hubspot 1014, salesforce 006…. A note cut
    short (…) gives the deals it still names whole."""
    found = NOTE_DEALS.match(note)
    if found is None:
        return ()
    pairs: list[tuple[str, str]] = []
    for part in found.group("deals").split("; "):
        m = DEALS.fullmatch(part.strip())
        if m is not None:
            pairs += [(m.group("source"), i.strip()) for i in m.group("ids").split(",") if i.strip()]
    return tuple(pairs)


def owned_entries(ctx: Context, scope: frozenset[CompanyId] | None = None) -> list[OwnedEntry]:
    """Every managed ledger row (or those of `scope`'s companies), by company and feature name."""
    rows = [o for o in ctx.store.owned() if scope is None or o.company_id in scope]
    notes = ledger_notes(ctx.store)
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
            deals=deals_of_note(notes.get(o.token, "")),
        )
        for o in rows
    ]
    return sorted(entries, key=lambda e: (e.company.lower(), e.feature.lower(), e.override_id or ""))


def _value(fields: dict[str, Any] | Any) -> OverrideValue | None:
    try:
        return value_from_json(fields) if fields else None
    except (KeyError, ValueError):  # a row written before values were recorded
        return None
