"""The state database's run history, poll cursors and guard baselines: the part of `Store` that is
not the ownership ledger (store/repository.py), as a mixin over the same engine and sessions.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, select

from crmsync.domain import RunStatus
from crmsync.redaction import scrub
from crmsync.store import holders
from crmsync.store.clock import as_utc, db_now
from crmsync.store.tables import Cursor, RunChange, RunRecord, SourceCount


@dataclass(frozen=True)
class ChangeResult:
    """How one change of a run ended."""

    action: str
    company_id: str
    feature_id: str
    override_id: str | None
    ok: bool
    message: str = ""


class RunHistory:
    """Runs (started, changes one by one, finished), cursors and source counts; mixed into `Store`."""

    readonly: bool

    def _session(self) -> AbstractContextManager[Session]:
        raise NotImplementedError  # Store's

    # --- run history ------------------------------------------------------------------

    def start_run(
        self,
        command: str,
        trigger: str,
        plan_checksum: str | None = None,
        lease_s: float | None = None,
        actor: str | None = None,
    ) -> int:
        """Open a run record (status `running`, a first heartbeat) started by `actor`; returns its id (0, and
        nothing recorded, on a read-only database). `lease_s`: how long it may go without a heartbeat before
        another process closes it as interrupted (None: only a process of its own host, seeing it dead, does)."""
        if self.readonly:
            return 0
        with self._session() as s:
            run = RunRecord(
                command=command,
                trigger=trigger,
                started_at=utc_now(),
                plan_checksum=plan_checksum,
                holder=holder(),
                heartbeat_at=db_now(s.connection()),
                lease_s=lease_s,
                actor=(actor or None) and actor[:128],
            )
            s.add(run)
            s.flush()
            assert run.id is not None
            return run.id

    def finish_run(
        self,
        run_id: int,
        status: RunStatus,
        summary: dict[str, Any],
        errors: Sequence[str],
        changes: Sequence[ChangeResult] = (),
    ) -> None:
        """Close a run record with its outcome and per-change results."""
        if self.readonly or not run_id:
            return
        with self._session() as s:
            run = s.get(RunRecord, run_id)
            assert run is not None
            run.finished_at, run.status = utc_now(), status
            run.summary_json = json.dumps(summary, sort_keys=True)
            run.errors_json = json.dumps([scrub(e) for e in errors])  # a vendor's message may quote a secret
            s.add(run)
            for c in changes:
                s.add(change_row(run_id, c))

    def heartbeat(self, run_id: int) -> None:
        """The run is alive: its heartbeat is now, by the database's clock."""
        if self.readonly or not run_id:
            return
        with self._session() as s:
            conn = s.connection()
            table = RunRecord.__table__  # type: ignore[attr-defined]
            conn.execute(
                update(table)
                .where(table.c.id == run_id, table.c.status == RunStatus.RUNNING)
                .values(heartbeat_at=db_now(conn))
            )

    def close_dead_runs(self) -> int:
        """Runs left `running` by a process that is gone become `interrupted`, counting the changes they
        made: on any host once the heartbeat is older than the run's lease (the database's clock judges),
        and on this host as soon as the process is seen dead. Returns how many."""
        if self.readonly:
            return 0
        host = holders.host()
        closed = 0
        with self._session() as s:
            now = db_now(s.connection())
            query = select(RunRecord).where(RunRecord.status == RunStatus.RUNNING)
            for run in s.exec(query).all():
                if not (_silent(run, now) or _dead_here(run, host)):
                    continue
                made = _made(s, run.id or 0)
                run.status, run.finished_at = RunStatus.INTERRUPTED, now
                run.summary_json = json.dumps({**json.loads(run.summary_json or "{}"), **made}, sort_keys=True)
                made_text = ", ".join(f"{n} {action}" for action, n in made.items()) or "no change"
                run.errors_json = json.dumps(
                    [f"the process running it stopped (killed?) before the run ended, after {made_text}"]
                )
                s.add(run)
                closed += 1
        return closed

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The most recent runs, newest first."""
        with self._session() as s:
            rows = s.exec(select(RunRecord).order_by(RunRecord.id.desc()).limit(limit)).all()  # type: ignore[union-attr]
            s.expunge_all()
            return list(rows)

    def last_run(self, commands: Sequence[str], statuses: Sequence[str]) -> RunRecord | None:
        """The newest run of one of `commands` that ended in one of `statuses`."""
        with self._session() as s:
            query = select(RunRecord).where(RunRecord.command.in_(commands), RunRecord.status.in_(statuses))  # type: ignore[attr-defined]
            row = s.exec(query.order_by(RunRecord.id.desc()).limit(1)).first()  # type: ignore[union-attr]
            s.expunge_all()
            return row

    def last_judged(self) -> datetime | None:
        """The instant the newest finished plan or apply judged the deals at (its summary's `as_of`);
        None before any. A plan names the overrides that expired after it (reconcile/diff.newly_expired)."""
        with self._session() as s:
            query = select(RunRecord).where(RunRecord.command.in_(("plan", "apply")), RunRecord.status != "running")  # type: ignore[attr-defined]
            rows = s.exec(query.order_by(RunRecord.id.desc()).limit(20)).all()  # type: ignore[union-attr]
            stamps = [json.loads(r.summary_json or "{}").get("as_of") for r in rows]
        found = next((t for t in stamps if isinstance(t, str)), None)
        return datetime.fromisoformat(found.replace("Z", "+00:00")) if found else None

    def run_of_plan(self, checksum: str, statuses: Sequence[RunStatus]) -> RunRecord | None:
        """The newest run that applied the saved plan with this checksum and ended in one of `statuses`."""
        with self._session() as s:
            query = select(RunRecord).where(
                RunRecord.plan_checksum == checksum,
                RunRecord.status.in_(statuses),  # type: ignore[attr-defined]
            )
            row = s.exec(query.order_by(RunRecord.id.desc()).limit(1)).first()  # type: ignore[union-attr]
            s.expunge_all()
            return row

    def run_changes(self, run_id: int) -> list[ChangeResult]:
        """The per-change results of one run, in the order they were applied."""
        with self._session() as s:
            rows = s.exec(select(RunChange).where(RunChange.run_id == run_id).order_by(RunChange.id)).all()  # type: ignore[arg-type]
            return [ChangeResult(r.action, r.company_id, r.feature_id, r.override_id, r.ok, r.message) for r in rows]

    # --- poll cursors -------------------------------------------------------------------

    def cursor(self, name: str) -> str | None:
        """Where the poll named `name` (e.g. `poll:hubspot`) got to; None before its first run."""
        with self._session() as s:
            row = s.get(Cursor, name)
            return row.value if row is not None else None

    def save_cursor(self, name: str, value: str) -> None:
        """After the changes up to `value` are safely queued: the next poll starts there."""
        with self._session() as s:
            row = s.get(Cursor, name) or Cursor(source=name, value=value, updated_at=utc_now())
            row.value, row.updated_at = value, utc_now()
            s.add(row)

    # --- guard baselines --------------------------------------------------------------

    def source_counts(self) -> dict[str, int]:
        """Deals per source at the last successful apply that counted it."""
        with self._session() as s:
            return {r.source: r.deals for r in s.exec(select(SourceCount)).all()}

    def save_source_counts(self, counts: dict[str, int]) -> None:
        """After a successful apply: remember how many deals each (trusted) source returned."""
        if self.readonly:
            return
        now = utc_now()
        with self._session() as s:
            for source, deals in counts.items():
                row = s.get(SourceCount, source) or SourceCount(source=source, deals=deals, updated_at=now)
                row.deals, row.updated_at = deals, now
                s.add(row)


def change_row(run_id: int, c: ChangeResult) -> RunChange:
    return RunChange(
        run_id=run_id,
        action=c.action,
        company_id=c.company_id,
        feature_id=c.feature_id,
        override_id=c.override_id,
        ok=c.ok,
        message=c.message,
    )


def _silent(run: RunRecord, now: datetime) -> bool:
    """Whether a run has gone longer than its lease without a heartbeat (both by the database's clock)."""
    if run.heartbeat_at is None or run.lease_s is None:
        return False
    return (now - as_utc(run.heartbeat_at)).total_seconds() > run.lease_s


def _dead_here(run: RunRecord, host: str) -> bool:
    """Whether a run's process was of this host and is gone."""
    where, _, pid = (run.holder or "").rpartition(":")
    return where == host and pid.isdigit() and not _alive(int(pid))


def _made(s: Session, run_id: int) -> dict[str, int]:
    """The changes a run made (ok per action) before it stopped, from its per-change records."""
    query = select(RunChange.action, func.count()).where(RunChange.run_id == run_id, RunChange.ok == True)  # noqa: E712 - SQL
    return {str(action): int(n) for action, n in s.exec(query.group_by(RunChange.action)).all()}


def holder() -> str:
    """Who runs a run: this host and process (to tell a killed run from a running one)."""
    return holders.holder()


def _alive(pid: int) -> bool:
    """Whether a process of this host with that id still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    return True


def utc_now() -> datetime:
    return datetime.now(UTC)
