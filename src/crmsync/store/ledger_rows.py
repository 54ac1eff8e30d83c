"""Ledger rows read as the service sees them (`Owned`), straight from the table's columns.

Called by repository.py for `owned()`, `owned_of()` and `released()`. A plan reads the whole
ledger once: rows come through SQLAlchemy Core (plain tuples, no ORM identity map), and equal stored
values are parsed once and shared (a ledger of 30,000 overrides holds a few dozen distinct values).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, literal, select
from sqlalchemy.engine import Connection

from crmsync.domain import CompanyId, FeatureId, LedgerState, OverrideId
from crmsync.store.tables import OwnedOverride

TABLE = OwnedOverride.__table__  # type: ignore[attr-defined]  # SQLModel sets it at class creation
COLUMNS = (
    "token",
    "override_id",
    "company_id",
    "feature_id",
    "sources",
    "status",
    "value_json",
    "pending_json",
    "note",
)


@dataclass(frozen=True, slots=True)
class Owned:
    """A ledger row as the service sees it."""

    token: str
    override_id: OverrideId | None
    company_id: CompanyId
    feature_id: FeatureId
    sources: tuple[str, ...]
    status: LedgerState
    last_applied: Mapping[str, Any] = field(default_factory=dict, compare=False)  # value_json; {} unknown
    pending: Mapping[str, Any] = field(default_factory=dict, compare=False)  # an update whose outcome is unknown
    note: str = field(default="", compare=False)  # the note crmsync last wrote on it


def read_owned(conn: Connection, *where: ColumnElement[bool], notes: bool = True) -> list[Owned]:
    """The ledger rows matching `where`, in one query. Values and source lists that repeat are shared:
    read-only (`Mapping`) by every caller. `notes=False` leaves the notes in the database (`note` "")."""
    values: dict[str, Mapping[str, Any]] = {}
    sources: dict[str, tuple[str, ...]] = {}
    ids: dict[str, str] = {}  # company and feature ids repeat: one string each
    states = {s.value: s for s in LedgerState}
    found = []
    columns = [TABLE.c[name] for name in COLUMNS]
    if not notes:
        columns[-1] = literal("").label("note")
    query = select(*columns).where(*where)
    for token, ident, company, feature, srcs, status, value, pending, note in conn.execute(query):
        found.append(
            Owned(
                token=token,
                override_id=OverrideId(ident) if ident else None,
                company_id=CompanyId(ids.setdefault(company, company)),
                feature_id=FeatureId(ids.setdefault(feature, feature)),
                sources=sources.get(srcs) or sources.setdefault(srcs, tuple(s for s in srcs.split(",") if s)),
                status=states.get(status) or LedgerState(status),
                last_applied=_parsed(values, value),
                pending=_parsed(values, pending) if pending else {},
                note=note or "",
            )
        )
    return found


def _parsed(memo: dict[str, Mapping[str, Any]], text: str | None) -> Mapping[str, Any]:
    found = memo.get(text or "")
    if found is None:
        found = memo[text or ""] = json_object(text)
    return found


def json_object(text: str | None) -> dict[str, Any]:
    """A stored value (`{}` when unknown or unreadable: drift is then not judged)."""
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
