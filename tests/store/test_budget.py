"""A rate budget in the state database holds in total across processes (SQLite and PostgreSQL),
and falls back to pacing one process alone when the database cannot take the write."""

from __future__ import annotations

import multiprocessing
import threading
import time
from multiprocessing.synchronize import Barrier
from pathlib import Path
from queue import Queue

import pytest
from sqlalchemy import create_engine, text

from crmsync import logs
from crmsync.pacing import LocalBudget, Unlimited
from crmsync.store.budget import SharedBudget, rate_budget
from crmsync.store.ledger_batch import LedgerBatch
from crmsync.store.repository import Store

RATE = 20.0
SECONDS = 2.0
PROCESSES = 3


def take_for(url: str, seconds: float, barrier: Barrier, results: Queue[tuple[int, float, float]]) -> None:
    """One process: take tokens one by one from the shared bucket for `seconds`; report how many, and when."""
    engine = create_engine(url)
    budget = SharedBudget(engine, "test.shared", RATE)
    barrier.wait()
    started = time.time()
    taken = 0
    while time.time() - started < seconds:
        budget.take()
        taken += 1
    results.put((taken, started, time.time()))
    engine.dispose()


def test_processes_sharing_a_bucket_take_no_more_than_the_rate_in_total(store: Store) -> None:
    """Three processes taking as fast as they can from one 20/s bucket for ~2 s get at most
    20 * elapsed + burst tokens together (and not much less: the budget is shared, not starved)."""
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(PROCESSES)
    results: Queue[tuple[int, float, float]] = spawn.Queue()
    workers = [spawn.Process(target=take_for, args=(store.url, SECONDS, barrier, results)) for _ in range(PROCESSES)]
    for w in workers:
        w.start()
    reports = [results.get(timeout=60) for _ in workers]
    for w in workers:
        w.join(timeout=30)
    total = sum(taken for taken, _, _ in reports)
    elapsed = max(end for _, _, end in reports) - min(start for _, start, _ in reports)
    burst = SharedBudget(store.engine, "unused", RATE).burst
    assert total <= RATE * elapsed + burst + 1, (total, elapsed)
    assert total >= 0.4 * RATE * elapsed, (total, elapsed)  # three unshared budgets would take ~3 times the rate
    assert all(taken > 0 for taken, _, _ in reports)  # nobody is starved


def test_a_read_only_database_falls_back_to_pacing_this_process_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A state database opened read-only cannot keep the bucket: the budget paces locally, with one warning."""
    Store(f"sqlite:///{tmp_path}/state.db").close()
    engine = create_engine(f"sqlite:///file:{tmp_path}/state.db?mode=ro&uri=true")
    slept: list[float] = []
    logs.configure_logging("json", "warning")
    try:
        budget = SharedBudget(engine, "test.readonly", 10.0, sleep=slept.append)
        for _ in range(3):
            budget.take()
    finally:
        logs.reset_logging()
        engine.dispose()
    assert len(slept) == 2 and all(s > 0 for s in slept)  # paced: 3 takes at 10/s, burst 1
    err = capsys.readouterr().err
    assert err.count("rate.shared_unavailable") == 1 and "test.readonly" in err


def test_a_process_takes_tokens_in_batches_of_a_tenth_of_the_rate(store: Store) -> None:
    """At 20/s a process asks the database once per 2 tokens, not once per call."""
    budget = SharedBudget(store.engine, "test.batch", RATE, sleep=lambda _s: None)
    for _ in range(10):
        budget.take()
    assert budget.batch == 2 and budget.round_trips == 5


def test_the_wiring_picks_shared_local_or_no_budget(store: Store) -> None:
    """With a state database the budget is shared; without one it is local; a rate of 0 is unlimited."""
    assert isinstance(rate_budget("x", 20.0, store.engine), SharedBudget)
    assert isinstance(rate_budget("x", 20.0, None), LocalBudget)
    assert isinstance(rate_budget("x", 0.0, store.engine), Unlimited)


def test_a_database_from_before_rate_buckets_gets_the_table_on_first_take(store: Store) -> None:
    """A state database created before `rate_buckets` existed: the first take creates the table and works."""
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE rate_buckets"))
    budget = SharedBudget(store.engine, "test.late", RATE, sleep=lambda _s: None)
    budget.take()
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM rate_buckets")).scalars().all() == ["test.late"]


def test_threads_of_one_process_share_its_budget_beside_ledger_commits(store: Store) -> None:
    """Apply's pool: 8 threads taking from one SharedBudget for ~2 s while this thread commits ledger
    batches to the same database: no error on either side, and the threads together stay within the rate."""
    budget = SharedBudget(store.engine, "test.pool", RATE)
    errors: list[BaseException] = []
    counts = [0] * 8
    started = time.monotonic()

    def worker(n: int) -> None:
        try:
            while time.monotonic() - started < SECONDS:
                budget.take()
                counts[n] += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    ledger = LedgerBatch(store)
    commits = 0
    while any(t.is_alive() for t in threads):
        ledger.intent(f"tok-{commits}", f"comp_{commits}", "feat_x", ["hubspot"], {"value_type": "boolean"}, "n")
        assert ledger.commit() == {}
        commits += 1
    elapsed = time.monotonic() - started
    assert not errors, errors
    assert commits > 10 and ledger.counts.commits == commits
    assert sum(counts) <= RATE * elapsed + budget.burst + 1, (counts, elapsed)
    assert sum(counts) >= 0.4 * RATE * SECONDS, (counts, elapsed)
    assert len([o for o in store.owned() if o.token.startswith("tok-")]) == commits
