"""The guard's window in the state database: reservations by several processes (one engine each, as
replicas have) never spend more than the judgement allows, and settling records what a run made."""

from __future__ import annotations

import threading
import time

from crmsync.reconcile.guard_window import Spent
from crmsync.store.guard_window import GuardWindow
from crmsync.store.repository import Store

HOUR = 3600.0


def test_concurrent_reservations_of_two_replicas_never_overspend(store: Store) -> None:
    """16 one-delete runs on two engines racing for a budget of 4: exactly 4 reserve, the window holds 4."""
    other = Store(store.url)
    try:
        books = [GuardWindow(store.engine), GuardWindow(other.engine)]
        won: list[int] = []
        start = threading.Barrier(16)

        def run(n: int) -> None:
            start.wait()
            entry, _ = books[n % 2].reserve(n, Spent(1, 0), HOUR, lambda spent: spent.total + 1 <= 4)
            if entry is not None:
                won.append(entry)

        threads = [threading.Thread(target=run, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(won) == 4
        assert books[1].spent(HOUR) == Spent(4, 0)
    finally:
        other.close()


def test_settling_records_what_the_run_made_and_old_rows_leave_the_window(store: Store) -> None:
    """A reservation of 3 deletes settled at 1 delete and 1 downgrade counts as that; a 0 s window sees none."""
    book = GuardWindow(store.engine)
    entry, before = book.reserve(1, Spent(3, 0), HOUR, lambda _spent: True)
    assert entry is not None and before == Spent()
    book.settle(entry, Spent(1, 1))
    assert book.spent(HOUR) == Spent(1, 1)
    time.sleep(0.01)
    assert book.spent(0.0) == Spent()
