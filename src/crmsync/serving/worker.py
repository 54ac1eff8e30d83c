"""The intake worker of `crmsync serve`: stored hints → companies → one reconcile per batch of companies.

Each pass claims pending hints under a lease, resolves them to Schematic companies (resolve.py)
and queues those in `company_work`; then it claims queued companies (never one another process
runs) and calls the injected `ReconcileScope` once for the batch, renewing the leases while it runs.
N hints for one company become one reconcile; a hint arriving meanwhile causes exactly one more.
`wake()` (set by the webhook endpoints after an insert) makes the local worker react at once; every
replica also polls the database every `poll` seconds (≤ 0.5 s), so work stored elsewhere is found.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from crmsync.domain import CompanyId, Source, Trigger
from crmsync.errors import CrmsyncError
from crmsync.logs import get_logger
from crmsync.metrics import LATENCY, RUNS
from crmsync.redaction import scrub_line
from crmsync.service.reconcile import Outcome
from crmsync.serving.health import check_of
from crmsync.serving.resolve import Resolver
from crmsync.store.holders import holder
from crmsync.store.intake import ALL_COMPANIES, ClaimedEvent, ClaimedWork, Finished, IntakeStore, utcnow
from crmsync.threads import leave_signals_to_main

log = get_logger("crmsync.intake")
BURST = 10  # hints in one batch that mean a burst is under way (the next batch gathers first)
DETAIL = 300  # characters of an exception's text kept in a log field or the intake's error column

# The one reconcile use case, scoped: (Schematic company ids, or None for every company; trigger) → outcome.
# An exception, or an outcome whose `ok` is False, counts as a failed run (retried after a delay).
ReconcileScope = Callable[[frozenset[CompanyId] | None, Trigger], Outcome]
WEBHOOK_OF = {  # the trigger of hints from one source (web/ stores these); hints from several: Trigger.WEBHOOK
    Source.HUBSPOT.value: Trigger.WEBHOOK_HUBSPOT,
    Source.SALESFORCE.value: Trigger.WEBHOOK_SALESFORCE,
    "schematic": Trigger.WEBHOOK_SCHEMATIC,
}


def worker_name() -> str:
    """host:pid:random, unique per worker (it is what a lease is held by)."""
    return holder(unique=True, limit=64)  # the intake's claimed_by column


@dataclass(frozen=True)
class WorkerSettings:
    """How the worker paces itself."""

    lease: float = 30.0  # seconds a claim is held without renewal (a crashed worker's rows return after it)
    poll: float = 0.5  # seconds between looks at the database when nothing woke the worker
    event_batch: int = 100  # hints resolved together
    company_batch: int = 50  # companies reconciled in one call
    max_attempts: int = 5  # a hint that cannot be resolved this often is given up (an API outage does not count)
    gather: float = 0.2  # seconds hints are let arrive before a batch, under a burst
    retry_delay: float = 5.0  # seconds before a failed resolution or run is tried again (times the attempts)
    outage_retry_max: float = 30.0  # while an API is down (no attempt limit), the longest wait between tries


class IntakeWorker:
    """Claims, resolves and reconciles; `run(stop)` loops until `stop` is set, finishing the run in flight."""

    def __init__(
        self,
        intake: IntakeStore,
        resolver: Resolver,
        reconcile: ReconcileScope,
        settings: WorkerSettings | None = None,
        *,
        name: str | None = None,
    ) -> None:
        self.intake, self.resolver, self.reconcile = intake, resolver, reconcile
        self.settings = settings or WorkerSettings()
        self.name = name or worker_name()
        self.woken = threading.Event()  # hints were stored
        self.queued = threading.Event()  # companies were queued
        self._last_batch = 0  # hints the last resolve batch claimed

    def wake(self) -> None:
        """Something was stored (hints, or companies by POST /reconcile): look now, not at the next poll."""
        self.woken.set()
        self.queued.set()

    def run(self, stop: threading.Event) -> None:
        """Work until `stop` is set; the pass in progress is finished first. Hints are resolved in a
        thread of their own beside the reconciles: under a burst, the hints that keep coming become
        queued companies while the companies before them are being written (each loop claims its own
        rows; a company queued while it runs is marked dirty and runs again)."""

        def resolve() -> None:
            leave_signals_to_main()
            self._loop(stop, self.resolve_batch, self.woken)

        resolving = threading.Thread(target=resolve, name="crmsync-resolve", daemon=True)
        resolving.start()
        try:
            self._loop(stop, self.reconcile_batch, self.queued)
        finally:
            resolving.join()

    def _loop(self, stop: threading.Event, step: Callable[[], bool], woken: threading.Event) -> None:
        while not stop.is_set():
            try:
                busy = step()
            except CrmsyncError as exc:  # the database is away: wait, then look again
                log.error("worker.failed", error=type(exc).__name__, detail=str(exc))
                busy = False
            except Exception:  # a bug must not stop the worker; claimed rows return after their lease
                log.exception("worker.crashed")
                busy = False
            if not busy:
                woken.wait(self.settings.poll)
                woken.clear()

    def run_once(self) -> bool:
        """One pass: resolve a batch of hints, then reconcile a batch of companies. True if it did anything."""
        resolved = self.resolve_batch()
        ran = self.reconcile_batch()
        return resolved or ran

    def resolve_batch(self) -> bool:
        """Claim hints, queue their companies, mark them done (or retry them later). Under a burst (the
        last batch held `BURST` hints or more) it first lets `gather` seconds of hints arrive, so they
        are resolved in a few large batches instead of one per request (a lone hint waits for nothing)."""
        s = self.settings
        if self._last_batch >= BURST:
            time.sleep(s.gather)
        events = self.intake.claim_events(self.name, s.event_batch, s.lease)
        self._last_batch = len(events)
        if not events:
            return False
        ids = [e.id for e in events]
        try:
            companies = self.resolver.companies(events)
        except Exception as exc:  # noqa: BLE001 - whatever failed (an API, a bug), the hints are tried again
            attempts = max(e.attempts for e in events)
            detail, error = _detail(exc), type(exc).__name__  # stored too: masked, on one line, bounded
            log.warning("hints.unresolved", hints=len(events), attempt=attempts, error=error, detail=detail)
            if check_of(exc) is not None:  # an outage is waited out: no hint is given up because of it
                delay = min(s.retry_delay * attempts, s.outage_retry_max)
                self.intake.retry_events(ids, self.name, detail, delay, max_attempts=2**31 - 1)
            else:
                self.intake.retry_events(ids, self.name, detail, s.retry_delay * attempts, s.max_attempts)
            return True
        if companies:
            self.intake.enqueue_companies(companies, _trigger(events), first_hint_at=min(e.received_at for e in events))
            self.queued.set()
        self.intake.finish_events(ids, self.name)
        log.info("hints.resolved", hints=len(events), companies=len(companies))
        return True

    def reconcile_batch(self) -> bool:
        """Claim queued companies and reconcile them (a full run on its own), renewing the leases meanwhile."""
        s = self.settings
        work = self.intake.claim_companies(self.name, s.company_batch, s.lease)
        if not work:
            return False
        full = [w for w in work if w.company_id == ALL_COMPANIES]
        scoped = [w for w in work if w.company_id != ALL_COMPANIES]
        for batch, scope in ((full, None), (scoped, frozenset(CompanyId(w.company_id) for w in scoped))):
            if batch:
                self._run(batch, scope)
        return True

    def _run(self, work: Sequence[ClaimedWork], scope: frozenset[CompanyId] | None) -> None:
        trigger = work[0].trigger if len({w.trigger for w in work}) == 1 else Trigger.WEBHOOK
        ok, why, outage = False, dict[str, Any](), False  # why it failed, as log fields
        with _Renewal(self.intake, [w.id for w in work], self.name, self.settings.lease):
            try:
                outcome = self.reconcile(scope, trigger)
                ok = outcome.ok
                why = {} if ok else outcome.reason()
            except CrmsyncError as exc:
                why, outage = {"error": type(exc).__name__, "detail": _detail(exc)}, check_of(exc) is not None
            except Exception as exc:
                log.exception("reconcile.crashed", scope=_describe(scope))
                why = {"error": type(exc).__name__, "detail": _detail(exc)}
        RUNS.labels(trigger=trigger.value, result="ok" if ok else "failed").inc()
        done = utcnow()
        s = self.settings
        finished, given_up = list[Finished](), list[ClaimedWork]()  # the others are queued again
        for w in work:
            give_up = not ok and not outage and w.attempts >= s.max_attempts  # an outage is waited out
            if give_up:
                given_up.append(w)
            if ok and w.first_hint_at is not None:
                LATENCY.observe(max(0.0, (done - w.first_hint_at).total_seconds()))
            delay = min(s.retry_delay * w.attempts, s.outage_retry_max) if outage else s.retry_delay * w.attempts
            finished.append(Finished(w.id, ok or give_up, delay))
        self.intake.finish_companies(finished, self.name)  # one transaction for the batch
        for w in given_up:
            log.error("reconcile.given_up", company_id=w.company_id, attempts=w.attempts, **why)
        retried = 0 if ok else len(work) - len(given_up)
        if ok:
            log.info("reconcile.done", scope=_describe(scope), trigger=trigger.value)
        else:
            log.warning("reconcile.failed", scope=_describe(scope), trigger=trigger.value, retried=retried, **why)


class _Renewal:
    """Renews the leases of running companies every lease/3 seconds until the block ends."""

    def __init__(self, intake: IntakeStore, ids: list[int], worker: str, lease: float) -> None:
        self.intake, self.ids, self.worker, self.lease = intake, ids, worker, lease
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="crmsync-lease", daemon=True)

    def __enter__(self) -> _Renewal:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        leave_signals_to_main()
        while not self._stop.wait(self.lease / 3):
            try:
                held = self.intake.renew(self.ids, self.worker, self.lease)
            except CrmsyncError as exc:
                log.warning("lease.renewal_failed", error=type(exc).__name__, detail=str(exc))
                continue
            if held < len(self.ids):
                log.error("lease.lost", leases=len(self.ids) - held)  # another worker may take them over


def _trigger(events: Sequence[ClaimedEvent]) -> Trigger:
    if events and all(e.kind == "poll" for e in events):
        return Trigger.POLL
    sources = {e.source for e in events}
    return WEBHOOK_OF[sources.pop()] if len(sources) == 1 else Trigger.WEBHOOK


def _detail(exc: BaseException) -> str:
    """An exception's text as a log field or the intake's error column may hold it: secrets masked
    (a URL with a token, a vendor's body), on one line, at most DETAIL characters."""
    return scrub_line(str(exc))[:DETAIL]


def _describe(scope: frozenset[CompanyId] | None) -> str:
    if scope is None:
        return "every company"
    return ", ".join(sorted(scope)[:5]) + (f" and {len(scope) - 5} more" if len(scope) > 5 else "")


def wait_idle(intake: IntakeStore, timeout: float, clock: Callable[[], float] = time.monotonic) -> bool:
    """True once nothing is pending or running (tests, the demo, graceful drains); False at the timeout."""
    end = clock() + timeout
    while clock() < end:
        depth = intake.depth()
        if depth.events == 0 and depth.companies == 0:
            return True
        time.sleep(0.05)
    return False
