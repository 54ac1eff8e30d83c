"""The only writer: executes a Plan against Schematic and records ownership.

Ownership is recorded before each create (an intent with a unique token, also written
into the override's note) and confirmed after; a create whose response is lost is
found again by its token, never sent twice. Each change succeeds or fails on its own;
an unreachable API or rejected key stops the rest (nothing half-written is left unknown).
Called only by the reconcile use case (service/reconcile.py), under the companies' leases.

Writes run concurrently: a pool of `max_in_flight` worker threads makes the HTTP calls
(service/sending.py), paced by the transport's shared rate budget; this module's coordinating
thread does every ledger write, in batches (store/ledger_batch.py): the intents of a batch are
committed in one transaction before any of its creates is sent, the outcomes (with the run's
per-change records) in one transaction after. One company's changes go one at a time, in order.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from crmsync import progress
from crmsync.domain import Action, Change, CompanyId, OverrideId
from crmsync.errors import AuthError, RequestRejected, ServiceError, ServiceUnreachable
from crmsync.log_events import log_change
from crmsync.reconcile.note import make_note
from crmsync.reconcile.plan import value_json
from crmsync.schematic.transport import OutcomeUnknown
from crmsync.service.context import Context
from crmsync.service.ownership import sources_of
from crmsync.service.sending import Step, send
from crmsync.store.ledger_batch import LedgerBatch, tokens_of
from crmsync.store.repository import ChangeResult
from crmsync.threads import leave_signals_to_main

SETTLE_WINDOW = 0.01  # seconds: outcomes arriving this close together are committed together
AHEAD = 4  # changes prepared (intents committed) per worker: a queue that outlasts a slow moment of this thread


@dataclass
class ApplyReport:
    """What an apply did."""

    results: list[ChangeResult] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)  # ledger-only records (adopt, release, forget)
    busy: list[str] = field(default_factory=list)  # companies another process held until the wait ran out
    recorder: Callable[[ChangeResult], None] | None = field(default=None, repr=False, compare=False)  # each result
    refused: list[str] = field(default_factory=list)  # companies whose fresh re-plan a guard refused
    stopped: str = ""  # why the remaining changes were not attempted
    not_attempted: int = 0

    def add(self, result: ChangeResult) -> None:
        """One change's outcome (told to the recorder at once, so a killed run still shows it)."""
        self.results.append(result)
        progress.emit(progress.WriteDone(result.ok))
        if self.recorder is not None:
            self.recorder(result)

    @property
    def failed(self) -> list[ChangeResult]:
        """The changes that did not succeed."""
        return [r for r in self.results if not r.ok]

    @property
    def ok(self) -> bool:
        """True when every change succeeded and nothing was left out."""
        return not self.failed and not self.stopped and not self.busy and not self.refused


def apply_changes(
    ctx: Context,
    changes: Sequence[Change],
    report: ApplyReport,
    *,
    before_each: Callable[[], None] | None = None,
    ledger: LedgerBatch | None = None,
) -> None:
    """Execute changes, each on its own, into `report`: up to `max_in_flight` at once (the Schematic
    client's), one company's changes in their order. The caller holds the leases of their companies
    and has re-read those companies (service/reconcile.py); `before_each` renews the leases (called
    before each batch is prepared). An unreachable API or a rejected key stops the rest (counted as
    not attempted). `ledger` buffers the ledger writes (default: one of its own, without run records)."""
    if changes:
        _Writer(ctx, report, ledger or LedgerBatch(ctx.store), before_each).run(changes)


class _Writer:
    """The coordinating thread: ledger, report and log here; only the HTTP calls go to the workers."""

    def __init__(
        self, ctx: Context, report: ApplyReport, ledger: LedgerBatch, renew: Callable[[], None] | None
    ) -> None:
        self.ctx, self.report, self.ledger, self.renew = ctx, report, ledger, renew
        self.width = ctx.schematic.max_in_flight  # at least 1 (the transport's)
        self.queues: dict[CompanyId, deque[Change]] = {}
        self.ready: deque[CompanyId] = deque()
        self.running: dict[Future[OverrideId], Step] = {}
        self.stop: BaseException | None = None  # the error that stopped the rest
        self.skipped = 0  # prepared but never sent (after a stop)

    def run(self, changes: Sequence[Change]) -> None:
        for change in changes:
            self.queues.setdefault(change.company_id, deque()).append(change)
        self.ready.extend(self.queues)
        with ThreadPoolExecutor(
            self.width, thread_name_prefix="crmsync-write", initializer=leave_signals_to_main
        ) as pool:
            try:
                self._loop(pool)
            except BaseException:
                self._abandon()
                raise
        if self.stop is not None:
            self.report.not_attempted += self.skipped + sum(len(q) for q in self.queues.values())
            self.report.stopped = f"{self.stop}; {self.report.not_attempted} remaining change(s) not attempted"

    def _loop(self, pool: ThreadPoolExecutor) -> None:
        while True:
            if self.running:
                self._collect()
            steps: list[Step] = []
            if self.stop is None and self.ready and len(self.running) <= (AHEAD - 1) * self.width:
                if self.renew is not None:
                    self.renew()
                steps = self._prepare(AHEAD * self.width - len(self.running))
            refused = self.ledger.commit()  # the outcomes, then this batch's intents: before any is sent
            for step in steps:
                if step.token in refused:
                    self._failed(step, refused[step.token])
                else:
                    self.running[pool.submit(send, self.ctx.schematic, step)] = step
            if not self.running and (self.stop is not None or not self.ready):
                self.ledger.commit()
                return

    def _collect(self) -> None:
        """Settle the next outcome, and those that follow it within SETTLE_WINDOW (one commit for them)."""
        until = time.monotonic() + SETTLE_WINDOW
        done, _ = wait(self.running, return_when=FIRST_COMPLETED)
        while done:
            for future in done:
                self._settle(self.running.pop(future), future)
            left = until - time.monotonic()
            if left <= 0 or not self.running:
                return
            done, _ = wait(self.running, timeout=left, return_when=FIRST_COMPLETED)

    def _prepare(self, room: int) -> list[Step]:
        """The next change of up to `room` companies, ledger records buffered (intents, pending updates)."""
        changes = [self.queues[self.ready.popleft()].popleft() for _ in range(min(room, len(self.ready)))]
        updates = [c.before.id for c in changes if c.action is Action.UPDATE and c.before is not None]
        tokens = tokens_of(self.ctx.store, updates)
        steps = []
        for change in changes:
            if change.action is Action.CREATE:
                assert change.after is not None
                token = secrets.token_hex(8)
                note = make_note(change.after, token=token)
                want = change.after
                self.ledger.intent(
                    token, want.company_id, want.feature_id, sources_of(want), value_json(want.value), note
                )
                steps.append(Step(change, note, token))
            elif change.action is Action.UPDATE:
                assert change.after is not None and change.before is not None
                note = make_note(change.after, token=tokens.get(change.before.id))  # the marker stays on it
                self.ledger.mark_update(change.before.id, value_json(change.after.value))
                steps.append(Step(change, note))
            else:
                steps.append(Step(change))
        return steps

    def _settle(self, step: Step, future: Future[OverrideId]) -> None:
        """A worker's outcome: the ledger (buffered), the `change` event and the report; the company's
        next change becomes ready."""
        change, error = step.change, future.exception()
        if error is None:
            override_id = future.result()
            if change.action is Action.DELETE:
                self.ledger.record_delete(override_id)
            elif change.action is Action.UPDATE:
                assert change.after is not None
                value = value_json(change.after.value)
                self.ledger.record_update(override_id, sources_of(change.after), value, step.note)
            else:
                assert step.token is not None
                self.ledger.confirm(step.token, override_id)
            log_change(change, override_id, duration_ms=step.duration_ms)
            self.report.add(_result(change, override_id, ok=True))
            self._next(change.company_id)
            return
        if change.action is Action.UPDATE and isinstance(error, (RequestRejected, AuthError)):
            assert change.before is not None
            self.ledger.clear_pending(change.before.id)  # refused: nothing changed
        # any other failed update may have changed it: the next run reads Schematic and settles it
        elif (
            change.action is Action.CREATE and isinstance(error, ServiceError) and not isinstance(error, OutcomeUnknown)
        ):
            assert step.token is not None
            self.ledger.forget(step.token)  # rejected: nothing was created
        # an unknown outcome keeps its intent: the next run looks for the token again before creating
        if not isinstance(error, ServiceError):
            raise error
        self._failed(step, error)
        if isinstance(error, (AuthError, ServiceUnreachable)):
            if self.stop is None:
                self.stop = error
            self._cancel_queued()

    def _failed(self, step: Step, error: BaseException) -> None:
        log_change(step.change, None, duration_ms=step.duration_ms, error=error)
        self.report.add(_result(step.change, None, ok=False, message=str(error)))
        self._next(step.change.company_id)

    def _next(self, company: CompanyId) -> None:
        if self.queues[company]:
            self.ready.append(company)
        else:
            del self.queues[company]

    def _cancel_queued(self) -> None:
        """After a stop: the prepared steps no worker has started are never sent (their records undone)."""
        for future, step in list(self.running.items()):
            if future.cancel():
                del self.running[future]
                self.skipped += 1
                change = step.change
                if step.token is not None:
                    self.ledger.forget(step.token)
                elif change.action is Action.UPDATE and change.before is not None:
                    self.ledger.clear_pending(change.before.id)

    def _abandon(self) -> None:
        """An unexpected error (a lost lease, the state database gone): send nothing more, let the calls
        under way end and record what they did where the database still takes it; intents left behind
        are found by their token at the next run."""
        self.stop = self.stop or RuntimeError("stopped")
        self._cancel_queued()
        if self.running:
            wait(self.running)
        for future, step in list(self.running.items()):
            with contextlib.suppress(Exception):
                self._settle(step, future)
        self.running.clear()
        with contextlib.suppress(Exception):
            self.ledger.commit()


def _result(change: Change, override_id: str | None, *, ok: bool, message: str = "") -> ChangeResult:
    return ChangeResult(
        change.action.value,
        change.company_id,
        change.feature_id,
        override_id or (change.before.id if change.before else None),
        ok,
        message,
    )
