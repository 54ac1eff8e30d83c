"""The apply path's ledger writes, batched: one transaction of SQLAlchemy Core statements for many
changes, never an ORM session per row.

`apply` buffers here what it learns (confirmations, forgotten intents, updates and deletes recorded,
the run's per-change records) and what it is about to send (create intents, pending updates), then
`commit()`s them together before it sends anything of the batch: an intent is still durable before
its create leaves. Within one commit the outcomes go first, then the new intents, so a company's
delete and the create of the same feature that follows it land in that order. An older intent of a
pair is replaced only when the caller settled it (`replaceable`: read under the company's lease, its
token looked for and not found); any other intent of the pair refuses the new one, so a process never
deletes an intent another process may still be sending.

Called only by service/apply.py (and service/leased_apply.py, which builds it with the run's id).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, select, tuple_, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from crmsync.domain import LedgerState
from crmsync.errors import ServiceUnavailable
from crmsync.store.repository import SERVICE, SETTING, LedgerConflict, Store, _reason
from crmsync.store.runs import ChangeResult
from crmsync.store.tables import OwnedOverride, RunChange

LEDGER: Table = OwnedOverride.__table__  # type: ignore[attr-defined]
CHANGES: Table = RunChange.__table__  # type: ignore[attr-defined]
INTENT, ACTIVE, DELETED = LedgerState.INTENT.value, LedgerState.ACTIVE.value, LedgerState.DELETED.value


@dataclass
class Counts:
    """What the batches cost (tests/store/test_ledger_batch.py reads it): transactions committed, statements run."""

    commits: int = 0
    statements: int = 0


@dataclass
class LedgerBatch:
    """Ledger writes buffered until `commit()`; `run_id` 0 records no per-change rows."""

    store: Store
    run_id: int = 0
    counts: Counts = field(default_factory=Counts)
    _intents: list[dict[str, Any]] = field(default_factory=list)
    _marks: list[dict[str, Any]] = field(default_factory=list)  # pending updates set (or cleared: None)
    _confirms: list[dict[str, Any]] = field(default_factory=list)
    _forgets: list[str] = field(default_factory=list)
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _deletes: list[str] = field(default_factory=list)
    _changes: list[dict[str, Any]] = field(default_factory=list)
    _settled: set[str] = field(default_factory=set)  # intent tokens looked for and not found: replaceable

    # --- what is about to be sent -------------------------------------------------------

    def intent(
        self, token: str, company_id: str, feature_id: str, sources: Sequence[str], value: dict[str, Any], note: str
    ) -> None:
        """Before a create: an override with this token is being made (replaces an older intent of the
        pair the caller settled as `replaceable`; any other live row of the pair makes `commit` report a
        conflict)."""
        now = _now()
        self._intents.append(
            {
                "token": token,
                "company_id": company_id,
                "feature_id": feature_id,
                "sources": ",".join(sources),
                "value_json": json.dumps(value, sort_keys=True),
                "pending_json": None,
                "note": note,
                "status": INTENT,
                "created_at": now,
                "updated_at": now,
            }
        )

    def replaceable(self, tokens: Iterable[str]) -> None:
        """Intents the caller read under the company's lease and whose token it looked for in Schematic
        without finding it: a new intent of the same pair may replace them (none other)."""
        self._settled.update(tokens)

    def mark_update(self, override_id: str, value: dict[str, Any]) -> None:
        """Before an update is sent: the value it writes (settled from Schematic if its answer is lost)."""
        self._marks.append({"oid": override_id, "pending": json.dumps(value, sort_keys=True)})

    # --- what came back -----------------------------------------------------------------

    def confirm(self, token: str, override_id: str) -> None:
        """After a create (or on finding a lost one): the override exists and is ours."""
        self._confirms.append({"tok": token, "oid": override_id, "now": _now()})

    def forget(self, token: str) -> None:
        """A create intent whose override never came into being."""
        self._forgets.append(token)

    def record_update(self, override_id: str, sources: Sequence[str], value: Mapping[str, Any], note: str) -> None:
        """After an update: what crmsync last applied; nothing is pending any more."""
        self._updates.append(
            {
                "oid": override_id,
                "sources": ",".join(sources),
                "value": json.dumps(dict(value), sort_keys=True),
                "note": note,
                "now": _now(),
            }
        )

    def clear_pending(self, override_id: str) -> None:
        """An update that was refused: nothing changed."""
        self._marks.append({"oid": override_id, "pending": None})

    def record_delete(self, override_id: str) -> None:
        """After a delete (or a 404 on delete): no longer managed."""
        self._deletes.append(override_id)

    def record_change(self, result: ChangeResult) -> None:
        """One change's outcome in the run's history (the report's recorder), with the next commit."""
        if self.run_id and not self.store.readonly:
            self._changes.append(
                {
                    "run_id": self.run_id,
                    "action": result.action,
                    "company_id": result.company_id,
                    "feature_id": result.feature_id,
                    "override_id": result.override_id,
                    "ok": result.ok,
                    "message": result.message,
                }
            )

    @property
    def empty(self) -> bool:
        """Nothing buffered."""
        return not any(
            (self._intents, self._marks, self._confirms, self._forgets, self._updates, self._deletes, self._changes)
        )

    def commit(self) -> dict[str, LedgerConflict]:
        """Write everything buffered in one transaction (outcomes first, then intents). Returns the
        intents refused because the ledger already has a live row of their pair, by token: those must
        not be sent. Any other database failure raises ServiceUnavailable (nothing of the batch is written)."""
        if self.empty:
            return {}
        intents, self._intents = self._intents, []
        try:
            try:
                with self.store.engine.begin() as conn:
                    self._outcomes(conn)
                    self._prepare(conn, intents)
                self.counts.commits += 1
                self._clear()
                return {}
            except IntegrityError:
                pass  # some intent's pair is live already: find which, one by one (rare)
            with self.store.engine.begin() as conn:
                self._outcomes(conn)
                self._prepare(conn, [])
            self.counts.commits += 1
            self._clear()
            conflicts: dict[str, LedgerConflict] = {}
            for row in intents:
                try:
                    with self.store.engine.begin() as conn:
                        self._prepare(conn, [row])
                    self.counts.commits += 1
                except IntegrityError:
                    conflicts[row["token"]] = LedgerConflict(
                        f"the ledger already manages an override of {row['company_id']} / {row['feature_id']} "
                        "(another run created it, or is creating it); nothing was sent"
                    )
            return conflicts
        except SQLAlchemyError as exc:
            self._clear()
            raise ServiceUnavailable(SERVICE, f"{self.store.name}: {_reason(exc)}", setting=SETTING) from exc

    def _outcomes(self, conn: Connection) -> None:
        """Confirmations, forgotten intents, recorded updates and deletes, refused updates, run records."""
        if self._confirms:
            self._run(
                conn,
                update(LEDGER)
                .where(LEDGER.c.token == bindparam("tok"))
                .values(override_id=bindparam("oid"), status=ACTIVE, updated_at=bindparam("now")),
                self._confirms,
            )
        if self._forgets:
            self._run(conn, delete(LEDGER).where(LEDGER.c.token.in_(self._forgets), LEDGER.c.status == INTENT))
        if self._updates:
            self._run(
                conn,
                update(LEDGER)
                .where(LEDGER.c.override_id == bindparam("oid"))
                .values(
                    sources=bindparam("sources"),
                    value_json=bindparam("value"),
                    pending_json=None,
                    note=bindparam("note"),
                    updated_at=bindparam("now"),
                ),
                self._updates,
            )
        if self._deletes:
            self._run(
                conn,
                update(LEDGER).where(LEDGER.c.override_id.in_(self._deletes)).values(status=DELETED, updated_at=_now()),
            )
        if self._changes:
            self._run(conn, insert(CHANGES), self._changes)

    def _prepare(self, conn: Connection, intents: list[dict[str, Any]]) -> None:
        """Pending updates (set or cleared) and new create intents, each replacing a settled intent of its pair."""
        if self._marks:
            self._run(
                conn,
                update(LEDGER)
                .where(LEDGER.c.override_id == bindparam("oid"))
                .values(pending_json=bindparam("pending")),
                self._marks,
            )
        if intents:
            pairs = [(r["company_id"], r["feature_id"]) for r in intents]
            if self._settled:
                self._run(
                    conn,
                    delete(LEDGER).where(
                        tuple_(LEDGER.c.company_id, LEDGER.c.feature_id).in_(pairs),
                        LEDGER.c.status == INTENT,
                        LEDGER.c.token.in_(sorted(self._settled)),
                    ),
                )
            self._run(conn, insert(LEDGER), intents)

    def _run(self, conn: Connection, statement: Any, rows: list[dict[str, Any]] | None = None) -> None:
        conn.execute(statement, rows) if rows else conn.execute(statement)
        self.counts.statements += 1

    def _clear(self) -> None:
        for buffer in (self._marks, self._confirms, self._forgets, self._updates, self._deletes, self._changes):
            buffer.clear()


def tokens_of(store: Store, override_ids: Collection[str]) -> dict[str, str]:
    """The ledger token of each override (an update writes it into the note again): one query."""
    if not override_ids:
        return {}
    query = select(LEDGER.c.override_id, LEDGER.c.token).where(LEDGER.c.override_id.in_(list(override_ids)))
    rows = store.transact(lambda conn: conn.execute(query).all())
    return {str(oid): str(token) for oid, token in rows}


def _now() -> datetime:
    return datetime.now(UTC)
