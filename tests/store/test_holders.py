"""Who holds a lease, a claim, a booking or a run is spelled once (`store/holders.py`), and a stored
datetime is read as UTC once (`store/clock.as_utc`)."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta, timezone

import pytest

from crmsync.serving.worker import worker_name
from crmsync.store import holders
from crmsync.store.clock import as_utc
from crmsync.store.guard_window import GuardWindow
from crmsync.store.leases import holder_name
from crmsync.store.repository import Store
from crmsync.store.runs import holder as run_holder

LONG_HOST = "build-" + "x" * 240 + ".example.internal"  # gethostname() may return a long FQDN


@pytest.fixture
def long_host(monkeypatch: pytest.MonkeyPatch) -> str:
    """This host answers to LONG_HOST for one test."""
    monkeypatch.setattr(socket, "gethostname", lambda: LONG_HOST)
    return LONG_HOST


def test_every_holder_keeps_the_pid_and_fits_its_column(long_host: str, store: Store) -> None:
    """With a very long host name each holder is still host:pid[:random], cut in the host, within its column."""
    pid = f":{os.getpid()}"
    named = {
        "guard window": (GuardWindow(store.engine).holder, 128, False),
        "lease": (holder_name(), 128, True),
        "run": (run_holder(), 128, False),
        "intake worker": (worker_name(), 64, True),
    }
    for what, (name, width, unique) in named.items():
        assert len(name) <= width, what
        head, _, tail = name.rpartition(":") if unique else (name, "", "")
        assert head.endswith(pid) and long_host.startswith(head.removesuffix(pid)), what
        assert len(tail) == (8 if unique else 0), what


def test_a_run_holder_names_this_host_as_the_dead_run_check_reads_it(long_host: str) -> None:
    """The run's holder is `holders.host()` and this pid, so a run left by a gone process here is recognised."""
    assert run_holder() == f"{holders.host()}:{os.getpid()}"
    assert holders.host() == long_host[: holders.HOST_CHARS]


def test_unique_holders_differ_within_one_process() -> None:
    """Two workers of one process never share a name (each is a lease holder of its own)."""
    assert worker_name() != worker_name() and holder_name() != holder_name()


@pytest.mark.parametrize(
    ("stored", "read"),
    [
        (datetime(2026, 12, 6, 7, 0), datetime(2026, 12, 6, 7, 0, tzinfo=UTC)),
        (datetime(2026, 12, 6, 8, 0, tzinfo=timezone(timedelta(hours=1))), datetime(2026, 12, 6, 7, 0, tzinfo=UTC)),
        (datetime(2026, 12, 6, 7, 0, tzinfo=UTC), datetime(2026, 12, 6, 7, 0, tzinfo=UTC)),
    ],
    ids=["sqlite-naive-is-utc", "postgres-session-zone", "already-utc"],
)
def test_a_stored_datetime_is_read_as_aware_utc(stored: datetime, read: datetime) -> None:
    """Naive (SQLite) means UTC; an aware one (PostgreSQL) is the same instant, in UTC."""
    assert as_utc(stored) == read and as_utc(stored).tzinfo is UTC
