"""The state database's operations: the ownership ledger and the run history.

Called by the service (apply records ownership before and after each write). The only
module that opens sessions; database errors become `ServiceUnavailable` naming
CRMSYNC_DATABASE_URL, with any password in the URL redacted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import delete
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, select

from crmsync.domain import LedgerState
from crmsync.errors import CrmsyncError, ServiceUnavailable
from crmsync.reconcile.ledger_check import Marked
from crmsync.store import schema
from crmsync.store.audit import Audit
from crmsync.store.browse import Browse
from crmsync.store.engine import SERVICE as SERVICE  # the names callers import from here
from crmsync.store.engine import SETTING as SETTING
from crmsync.store.engine import describe, open_engine
from crmsync.store.engine import redact as redact  # the name callers import from here
from crmsync.store.ledger_rows import TABLE, read_owned
from crmsync.store.ledger_rows import Owned as Owned  # the name callers import from here
from crmsync.store.runs import ChangeResult as ChangeResult  # the name callers import from here
from crmsync.store.runs import RunHistory
from crmsync.store.tables import OwnedOverride

T = TypeVar("T")
MANAGED = (LedgerState.ACTIVE, LedgerState.INTENT, LedgerState.DUPLICATE)  # the rows `owned()` lists


class LedgerConflict(CrmsyncError):
    """The ledger already has a live row for this company and feature: another process created
    the override first. Nothing was sent; the next plan sees the other process's override."""


class Store(RunHistory, Audit, Browse):
    """Ledger (here); run history, poll cursors, guard baselines (store/runs.py); recorded actions
    (store/audit.py); the console's paged reads (store/browse.py); all over one engine."""

    def __init__(self, url: str, *, readonly: bool = False, migrate: bool = True) -> None:
        """Open the database at `url` and upgrade its schema to the newest migration (`migrate`).
        A SQLite file crmsync may not write is opened read-only: reads work, the run history is
        not recorded, and ledger writes fail naming the database."""
        self.url = url
        try:
            opened = open_engine(url, readonly=readonly)
        except (SQLAlchemyError, ModuleNotFoundError, ValueError, OSError) as exc:
            raise ServiceUnavailable(SERVICE, f"cannot open {describe(url)}: {_reason(exc)}", setting=SETTING) from exc
        self.engine, self.readonly, self.name = opened.engine, opened.readonly, opened.name
        try:
            self.upgrade = self.migrate() if migrate and not self.readonly else None
        except ServiceUnavailable:
            self.engine.dispose()
            raise

    def migrate(self) -> schema.Upgrade:
        """Upgrade the schema to the newest migration (one query when it is there already)."""
        if self.readonly:
            raise ServiceUnavailable(SERVICE, f"{self.name} is read-only: cannot upgrade it", setting=SETTING)
        try:
            return schema.upgrade(self.engine)
        except (SQLAlchemyError, OSError) as exc:
            raise ServiceUnavailable(SERVICE, f"cannot open {self.name}: {_reason(exc)}", setting=SETTING) from exc

    def revision(self) -> str | None:
        """The schema's migration revision (None: empty, or made before migrations)."""
        try:
            return schema.current(self.engine)
        except SQLAlchemyError as exc:
            raise ServiceUnavailable(SERVICE, f"cannot open {self.name}: {_reason(exc)}", setting=SETTING) from exc

    @contextmanager
    def _session(self) -> Iterator[Session]:
        shared = self.shared_session()
        if shared is not None:  # inside `audited()`: one transaction for the change and its record
            yield shared
            return
        try:
            with Session(self.engine) as session:
                yield session
                session.commit()
        except SQLAlchemyError as exc:
            raise ServiceUnavailable(SERVICE, f"{self.name}: {_reason(exc)}", setting=SETTING) from exc

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()

    def transact(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in one transaction on a core connection (committed when it returns)."""
        try:
            with self.engine.begin() as conn:
                return work(conn)
        except SQLAlchemyError as exc:
            raise ServiceUnavailable(SERVICE, f"{redact(self.url)}: {_reason(exc)}", setting=SETTING) from exc

    # --- ownership ledger -------------------------------------------------------------

    def owned(self, *, notes: bool = True) -> list[Owned]:
        """Every override crmsync manages: active ones, unconfirmed create intents, and duplicates.
        `notes=False`: without the notes crmsync wrote (`note` empty), for a plan, which never reads them."""
        managed = TABLE.c.status.in_([s.value for s in MANAGED])
        return self.transact(lambda c: read_owned(c, managed, notes=notes))

    def owned_of(self, companies: Collection[str]) -> list[Owned]:
        """The managed rows of some companies (read again under their leases before writing)."""
        managed = TABLE.c.status.in_([s.value for s in MANAGED])
        return self.transact(lambda c: read_owned(c, managed, TABLE.c.company_id.in_(list(companies))))

    def released(self, *, notes: bool = True) -> list[Owned]:
        """The overrides crmsync was told to stop managing (`crmsync release`, or drift: keep)."""
        return self.transact(lambda c: read_owned(c, TABLE.c.status == LedgerState.RELEASED.value, notes=notes))

    def release(self, override_ids: Collection[str]) -> None:
        """Stop managing these active overrides: nothing is deleted, the pairs are not re-created."""
        with self._session() as s:
            query = select(OwnedOverride).where(OwnedOverride.override_id.in_(list(override_ids)))  # type: ignore[union-attr]
            for row in s.exec(query).all():
                if row.status == LedgerState.ACTIVE:
                    row.status, row.updated_at = LedgerState.RELEASED, _now()
                    s.add(row)

    def adopt(
        self, override_id: str, company_id: str, feature_id: str, sources: Sequence[str], value: dict[str, Any]
    ) -> None:
        """Take an existing override into the ledger as active (a released row becomes active again);
        `value` is the override's value now, which crmsync then treats as last applied."""
        now = _now()
        with self._session() as s:
            row = s.exec(select(OwnedOverride).where(OwnedOverride.override_id == override_id)).first()
            row = row or OwnedOverride(
                token=f"adopt-{override_id}"[:64], company_id="", feature_id="", created_at=now, updated_at=now
            )
            row.override_id, row.company_id, row.feature_id = override_id, company_id, feature_id
            row.sources, row.value_json = ",".join(sources), json.dumps(value, sort_keys=True)
            row.status, row.updated_at = LedgerState.ACTIVE, now
            s.add(row)

    def record_intent(
        self, token: str, company_id: str, feature_id: str, sources: Sequence[str], value: dict[str, Any], note: str
    ) -> None:
        """Before a create: remember that an override with this token is being made. An older intent of
        the same pair whose override never appeared (the caller has just read the company's overrides
        under its lease) is replaced; a live row of the pair raises LedgerConflict (nothing is sent)."""
        now = _now()
        try:
            with Session(self.engine) as s:
                self._add_intent(s, token, company_id, feature_id, sources, value, note, now)
                s.commit()
        except IntegrityError as exc:
            raise LedgerConflict(
                f"the ledger already manages an override of {company_id} / {feature_id} (another run created it); "
                "nothing was sent"
            ) from exc
        except SQLAlchemyError as exc:
            raise ServiceUnavailable(SERVICE, f"{redact(self.url)}: {_reason(exc)}", setting=SETTING) from exc

    @staticmethod
    def _add_intent(
        s: Session,
        token: str,
        company_id: str,
        feature_id: str,
        sources: Sequence[str],
        value: dict[str, Any],
        note: str,
        now: datetime,
    ) -> None:
        s.exec(
            delete(OwnedOverride).where(
                OwnedOverride.company_id == company_id,  # type: ignore[arg-type]
                OwnedOverride.feature_id == feature_id,  # type: ignore[arg-type]
                OwnedOverride.status == LedgerState.INTENT,  # type: ignore[arg-type]
            )
        )
        s.add(
            OwnedOverride(
                token=token,
                company_id=company_id,
                feature_id=feature_id,
                sources=",".join(sources),
                value_json=json.dumps(value, sort_keys=True),
                note=note,
                status=LedgerState.INTENT,
                created_at=now,
                updated_at=now,
            )
        )
        s.flush()

    def confirm(self, token: str, override_id: str) -> None:
        """After a create (or on finding a lost one): the override exists and is ours."""
        with self._session() as s:
            row = s.exec(select(OwnedOverride).where(OwnedOverride.token == token)).one()
            row.override_id, row.status, row.updated_at = override_id, LedgerState.ACTIVE, _now()
            s.add(row)

    def forget(self, token: str) -> None:
        """A create intent whose override never came into being."""
        with self._session() as s:
            row = s.exec(select(OwnedOverride).where(OwnedOverride.token == token)).first()
            if row is not None and row.status == LedgerState.INTENT:
                s.delete(row)

    def record_update(
        self, override_id: str, sources: Sequence[str], value: Mapping[str, Any], note: str | None = None
    ) -> None:
        """After an update (or on finding that one whose answer was lost went through): what crmsync
        last applied; nothing is pending any more."""
        with self._session() as s:
            row = s.exec(select(OwnedOverride).where(OwnedOverride.override_id == override_id)).one()
            row.sources, row.value_json, row.pending_json, row.updated_at = (
                ",".join(sources),
                json.dumps(dict(value), sort_keys=True),
                None,
                _now(),
            )
            if note is not None:
                row.note = note
            s.add(row)

    def clear_pending(self, override_id: str) -> None:
        """An update found not to have happened (its pending value is dropped)."""
        with self._session() as s:
            row = s.exec(select(OwnedOverride).where(OwnedOverride.override_id == override_id)).first()
            if row is not None:
                row.pending_json = None
                s.add(row)

    def record_delete(self, override_id: str) -> None:
        """After a delete (or a 404 on delete): no longer managed."""
        with self._session() as s:
            row = s.exec(select(OwnedOverride).where(OwnedOverride.override_id == override_id)).first()
            if row is not None:
                row.status, row.updated_at = LedgerState.DELETED, _now()
                s.add(row)

    def known(self) -> tuple[set[str], set[str]]:
        """The tokens and override ids of every ledger row, whatever its status (empty: a new ledger)."""
        with self._session() as s:
            rows = s.exec(select(OwnedOverride.token, OwnedOverride.override_id)).all()
            return {t for t, _ in rows}, {i for _, i in rows if i}

    def restore(self, marked: Marked, sources: Sequence[str], value: dict[str, Any]) -> None:
        """Rebuild: an override carrying crmsync's marker becomes an active row with its token (an
        unconfirmed intent with that token is confirmed), or a released row when its note says it was
        released; `value` is its value now, as last applied."""
        now = _now()
        with self._session() as s:
            row = s.exec(select(OwnedOverride).where(OwnedOverride.token == marked.token)).first()
            row = row or OwnedOverride(token=marked.token, company_id="", feature_id="", created_at=now, updated_at=now)
            row.override_id, row.company_id, row.feature_id = marked.override_id, marked.company_id, marked.feature_id
            row.sources, row.value_json, row.note = ",".join(sources), json.dumps(value, sort_keys=True), marked.note
            row.status = LedgerState.RELEASED if marked.released else LedgerState.ACTIVE
            row.updated_at = now
            s.add(row)


def _now() -> datetime:
    return datetime.now(UTC)


def _reason(exc: BaseException) -> str:
    """The driver's first line (never the URL), else the exception's type."""
    own = exc if isinstance(exc, (OSError, ValueError)) else ""  # ValueError: an unsupported backend or driver
    detail = str(getattr(exc, "orig", None) or own).strip().splitlines()
    return f"{type(exc).__name__}: {detail[0][:200]}" if detail else type(exc).__name__
