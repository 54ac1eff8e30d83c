"""A saved plan (`crmsync plan --out FILE`) as JSON and back, and the check that Schematic has
not moved since it was read. Pure: the CLI reads and writes the file, service/saved.py re-reads
the live overrides and applies.

The file is `plan --json`'s object plus what applying exactly it needs: each change's full
before/after (with rule positions for the note), its drift and adoptions, every live override at
a changed (or auto-adopted) company and feature as read (id, updated_at, value, a digest of its
notes), create intents found, the deal counts to remember, and a `digest` over all of it so an
edited file is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crmsync.domain import (
    TIME_FORMAT,
    Action,
    Change,
    CompanyId,
    DealId,
    DesiredOverride,
    FeatureId,
    LiveOverride,
    OverrideId,
    Provenance,
    RuleRef,
    Source,
)
from crmsync.errors import ConfigError, UnsafePlanError
from crmsync.reconcile.adopt import Adoption
from crmsync.reconcile.drift import Drift, DriftAction, DriftPolicy
from crmsync.reconcile.notices import PlanWarning
from crmsync.reconcile.plan import Plan, parse_time, value_from_json, value_json

FORMAT = "crmsync-plan/1"


@dataclass(frozen=True)
class SavedPlan:
    """A decoded plan file: the plan, the live state it was computed from, and what to remember."""

    plan: Plan
    read: tuple[dict[str, Any], ...]  # the live overrides at every changed key, as `read_record`s
    intents: Mapping[str, OverrideId]  # create intents found with their override (token → id)
    deals: Mapping[str, int]  # deals per source to remember after a successful apply
    created_at: str


def encode(
    plan: Plan,
    live: Iterable[LiveOverride],
    *,
    intents: Mapping[str, OverrideId],
    deals: Mapping[str, int],
    created_at: datetime,
) -> dict[str, Any]:
    """The plan file's JSON object; `live` may hold every override read, only watched keys are kept."""
    keys = watched(plan)
    doc = plan.to_json()
    for entry, change in zip(doc["changes"], plan.changes, strict=True):
        if change.before is not None:
            entry["before"]["updated_at"] = _stamp(change.before.updated_at)
        if change.after is not None:
            entry["after"]["rule_refs"] = _rule_refs(change.after)
    for entry, adoption in zip(doc["adoptable"], plan.adoptions, strict=True):
        entry["desired"]["rule_refs"] = _rule_refs(adoption.desired)
    doc |= {
        "format": FORMAT,
        "created_at": created_at.astimezone(UTC).strftime(TIME_FORMAT),
        "read": sorted(
            (read_record(o) for o in live if (o.company_id, o.feature_id) in keys), key=lambda r: str(r["id"])
        ),
        "intents": dict(sorted(intents.items())),
        "deals": dict(sorted(deals.items())),
    }
    return doc | {"digest": digest(doc)}


def decode(doc: Any, where: str) -> SavedPlan:
    """A plan file's object → SavedPlan; refuses one edited since it was written."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ConfigError(
            f'{where} is not a crmsync plan file (no "format": "{FORMAT}"); write one with crmsync plan --out'
        )
    body = {k: v for k, v in doc.items() if k != "digest"}
    if doc.get("digest") != digest(body):
        raise UnsafePlanError(
            f"refusing to apply {where}: it was edited after crmsync plan wrote it (its digest does not match); "
            f"make a new one with crmsync plan --out {where}"
        )
    try:
        changes = tuple(_change(c) for c in doc["changes"])
        drift = tuple(_drift(d) for d in doc.get("drift", ()))
        adoptions = tuple(_adoption(a) for a in doc.get("adoptable", ()))
        names: dict[str, str] = {}
        for entry in (*doc["changes"], *doc.get("drift", ()), *doc.get("adoptable", ())):
            names |= {entry["company_id"]: entry["company"], entry["feature_id"]: entry["feature"]}
        warnings = tuple(PlanWarning.from_json(w) for w in doc.get("warnings", ()))
        plan = Plan(changes, warnings=warnings, names=names, drift=drift, adoptions=adoptions)
        saved = SavedPlan(plan, tuple(doc["read"]), dict(doc["intents"]), dict(doc["deals"]), doc["created_at"])
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: unreadable plan file ({type(exc).__name__}: {exc})") from exc
    if plan.checksum() != doc.get("checksum"):
        raise ConfigError(f"{where}: its changes do not match its checksum; make a new one with crmsync plan --out")
    return saved


def stale(saved: SavedPlan, now: Iterable[LiveOverride]) -> list[str]:
    """How the live overrides at the plan's watched keys differ from when the plan was made."""
    keys = watched(saved.plan)
    then = {str(r["id"]): r for r in saved.read}
    current = {str(o.id): read_record(o) for o in now if (o.company_id, o.feature_id) in keys}
    problems: list[str] = []
    for ident in sorted(then.keys() | current.keys()):
        before, after = then.get(ident), current.get(ident)
        record = after or before
        assert record is not None
        where = f"override {ident} ({saved.plan.name(record['company_id'])} / {saved.plan.name(record['feature_id'])})"
        if after is None:
            problems.append(f"{where} was deleted")
        elif before is None:
            problems.append(f"{where} was created")
        elif before != after:
            problems.append(f"{where} was changed (updated {before['updated_at']} → {after['updated_at']})")
    return problems


def read_record(override: LiveOverride) -> dict[str, Any]:
    """What is compared of a live override: id, key, updated_at, value, and a digest of its notes."""
    notes = hashlib.sha256("\n".join(override.notes).encode()).hexdigest()[:16]
    return {
        "id": override.id,
        "company_id": override.company_id,
        "feature_id": override.feature_id,
        "updated_at": _stamp(override.updated_at),
        "value": value_json(override.value),
        "notes_digest": notes,
    }


def watched(plan: Plan) -> set[tuple[CompanyId, FeatureId]]:
    """The keys whose live overrides must not move before a saved plan is applied: every changed
    key, and every key apply adopts on its own (`on_conflict: adopt`)."""
    return {(c.company_id, c.feature_id) for c in plan.changes} | {a.key for a in plan.adoptions if a.auto}


def digest(body: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON (catches edits; it is not a signature)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _change(entry: Mapping[str, Any]) -> Change:
    company, feature = CompanyId(entry["company_id"]), FeatureId(entry["feature_id"])
    before = after = None
    if entry["before"] is not None:
        b = entry["before"]
        value, updated = value_from_json(b), parse_time(b.get("updated_at"))
        before = LiveOverride(OverrideId(b["id"]), company, feature, value, updated_at=updated)
    if entry["after"] is not None:
        after = _desired(company, feature, entry["after"])
    return Change(Action(entry["action"]), company, feature, before, after, entry["reason"])


def _desired(company: CompanyId, feature: FeatureId, a: Mapping[str, Any]) -> DesiredOverride:
    provenance = Provenance(
        deals=tuple((Source(d["source"]), DealId(d["deal_id"])) for d in a["deals"]),
        rules=tuple(RuleRef(r["path"], int(r["line"]), r["feature"]) for r in a["rule_refs"]),
    )
    return DesiredOverride(company, feature, value_from_json(a), provenance)


def _rule_refs(want: DesiredOverride) -> list[dict[str, Any]]:
    return [{"path": r.path, "line": r.line, "feature": r.feature} for r in want.provenance.rules]


def _drift(entry: Mapping[str, Any]) -> Drift:
    live = entry["live"]
    return Drift(
        CompanyId(entry["company_id"]),
        FeatureId(entry["feature_id"]),
        OverrideId(entry["override_id"]),
        value_from_json(entry["last_applied"]),
        value_from_json(live) if live is not None else None,
        DriftPolicy(entry["policy"]),
        DriftAction(entry["action"]),
    )


def _adoption(entry: Mapping[str, Any]) -> Adoption:
    company, feature = CompanyId(entry["company_id"]), FeatureId(entry["feature_id"])
    live = LiveOverride(OverrideId(entry["override_id"]), company, feature, value_from_json(entry["live"]))
    return Adoption(live, _desired(company, feature, entry["desired"]), auto=bool(entry["auto"]))


def _stamp(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None
