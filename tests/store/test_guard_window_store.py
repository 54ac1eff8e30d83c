"""The guard's window in the state database: bookings by several processes (one engine each, as replicas
have) never spend more than the judgement allows, an override is counted once however many runs took it
away, and settling keeps what a run made."""

from __future__ import annotations

import threading
import time

from crmsync.reconcile.guard_window import Spent
from crmsync.store.guard_window import GuardWindow
from crmsync.store.repository import Store

HOUR = 3600.0


def test_concurrent_bookings_of_two_replicas_never_overspend(store: Store) -> None:
    """16 one-delete runs on two engines racing for a budget of 4: exactly 4 book, the window holds 4."""
    other = Store(store.url)
    try:
        books = [GuardWindow(store.engine), GuardWindow(other.engine)]
        won: list[str] = []
        start = threading.Barrier(16)

        def run(n: int) -> None:
            start.wait()
            booking, _ = books[n % 2].book(n, [(f"comp_{n}", "feat_seats", "delete")], HOUR,
                                           lambda spent: spent.total + 1 <= 4)  # fmt: skip
            if booking is not None:
                won.append(booking)

        threads = [threading.Thread(target=run, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(won) == 4
        assert books[1].spent(HOUR) == Spent(4, 0)
    finally:
        other.close()


def test_an_override_taken_again_by_a_later_run_counts_once(store: Store) -> None:
    """A killed run's booking and the run that redoes its work name the same pairs: counted once, and
    a run is judged on what the others took (its own pairs left out)."""
    book = GuardWindow(store.engine)
    pairs = [("comp_1", "feat_seats", "delete"), ("comp_2", "feat_seats", "downgrade")]
    first, _ = book.book(1, pairs, HOUR, lambda _spent: True)  # never settled: its process was killed
    assert first is not None
    seen: list[Spent] = []
    again, others = book.book(2, pairs, HOUR, lambda spent: seen.append(spent) is None)
    assert again is not None and others == Spent() and seen == [Spent()]
    assert book.spent(HOUR) == Spent(1, 1)
    assert book.spent(HOUR, excluding=[("comp_1", "feat_seats", "delete")]) == Spent(0, 1)


def test_settling_keeps_what_the_run_made_and_old_rows_leave_the_window(store: Store) -> None:
    """3 deletes booked, 1 made (and 1 downgrade a re-plan made): the window holds those two; a 0 s
    window holds none."""
    book = GuardWindow(store.engine)
    booked = [(f"comp_{n}", "feat_seats", "delete") for n in range(3)]
    booking, before = book.book(1, booked, HOUR, lambda _spent: True)
    assert booking is not None and before == Spent()
    book.settle(booking, [("comp_0", "feat_seats", "delete"), ("comp_9", "feat_api", "downgrade")])
    assert book.spent(HOUR) == Spent(1, 1)
    time.sleep(0.01)
    assert book.spent(0.0) == Spent()
