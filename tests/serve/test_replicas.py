"""Crash recovery and several workers sharing one PostgreSQL database (as replicas of `serve` would)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crmsync.domain import CompanyId, RunStatus, Trigger
from crmsync.schematic.client import SchematicClient
from crmsync.schematic.transport import Transport
from crmsync.service.reconcile import Outcome
from crmsync.serving.resolve import Resolver
from crmsync.serving.worker import IntakeWorker, WorkerSettings, wait_idle
from crmsync.store.intake import IntakeStore, NewEvent
from crmsync.store.repository import Store
from tests.serve.conftest import Stack
from tests.serve.databases import database_url


def test_a_crashed_workers_claims_are_taken_over(stack: Stack) -> None:
    """Hints claimed by a worker that died (its lease ran out) are resolved and reconciled by another."""
    stack.intake.add_events([NewEvent("hubspot", "deal.propertyChange", "1010", "k")])
    assert len(stack.intake.claim_events("dead-worker", 10, lease=0.2)) == 1
    assert not stack.worker.resolve_batch()  # still leased to the dead worker
    time.sleep(0.3)
    stack.drain()
    assert stack.calls == [(frozenset({CompanyId("comp_hooli")}), "webhook:hubspot")]


class Ledger:
    """What concurrent reconciles did: overlaps of one company, and when each company last started a run."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: set[str] = set()
        self.overlaps: list[str] = []
        self.last_start: dict[str, float] = {}
        self.runs: dict[str, int] = defaultdict(int)

    def reconcile(self, scope: frozenset[CompanyId] | None, trigger: Trigger) -> Outcome:
        assert scope is not None
        with self.lock:
            self.overlaps += sorted(scope & self.running)
            self.running |= scope
            for c in scope:
                self.last_start[c] = time.monotonic()
                self.runs[c] += 1
        # A reconcile takes a while: hints keep arriving meanwhile. (Hints are resolved beside the runs,
        # serving/worker.py, so a run much shorter than the gap between one company's hints has none to
        # collapse: each hint would simply get its own run.)
        time.sleep(0.1)
        with self.lock:
            self.running -= scope
        return Outcome(RunStatus.OK, None)


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    """A fresh PostgreSQL schema (skipped without a server)."""
    with database_url("postgres", tmp_path) as url:
        yield url


def test_two_workers_never_reconcile_one_company_at_once(postgres_url: str) -> None:
    """200 hints over 10 companies, two workers on their own connections: no company runs twice at once,
    and every company runs after its last hint."""
    stores = [Store(postgres_url) for _ in range(2)]
    intakes = [IntakeStore(s.engine) for s in stores]
    unused = SchematicClient(Transport("http://127.0.0.1:9", "unused-key"))  # Schematic hints need no lookup
    ledger = Ledger()
    settings = WorkerSettings(poll=0.01, company_batch=3)
    by_worker: dict[str, int] = defaultdict(int)

    def counted(name: str) -> Callable[[frozenset[CompanyId] | None, Trigger], Outcome]:
        def run(scope: frozenset[CompanyId] | None, trigger: Trigger) -> Outcome:
            by_worker[name] += 1
            return ledger.reconcile(scope, trigger)

        return run

    workers = [
        IntakeWorker(i, Resolver({}, unused, i, lambda: None), counted(f"w{n}"), settings, name=f"w{n}")
        for n, i in enumerate(intakes)
    ]
    stop = threading.Event()
    threads = [threading.Thread(target=w.run, args=(stop,)) for w in workers]
    for t in threads:
        t.start()
    last_hint: dict[str, float] = {}
    try:
        for n in range(200):
            company = f"comp_{n % 10}"
            last_hint[company] = time.monotonic()
            intakes[n % 2].add_events([NewEvent("schematic", "company.override.updated", f"o{n}", f"h{n}", company)])
            workers[n % 2].wake()
            if n % 20 == 0:
                time.sleep(0.01)
        assert wait_idle(intakes[0], timeout=60)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        for s in stores:
            s.close()
    assert ledger.overlaps == []
    assert sorted(ledger.last_start) == sorted(last_hint)
    assert all(ledger.last_start[c] >= last_hint[c] for c in last_hint)
    assert sum(ledger.runs.values()) < 200  # hints collapsed into fewer runs
    assert sorted(by_worker) == ["w0", "w1"]  # both replicas did part of the work
