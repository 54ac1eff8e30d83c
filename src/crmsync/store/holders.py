"""Who holds a lease, a claim, a booking or a run: this host and process as one short string, the one
spelling of it. Used by store/leases.py, store/guard_window.py, store/runs.py (which tells a run a
dead process of this host left by `host()` and the pid) and serving/worker.py.
"""

from __future__ import annotations

import os
import socket
import uuid

HOST_CHARS = 64  # Linux's HOST_NAME_MAX: a longer name (some FQDNs) is cut to this
COLUMN = 128  # the holder columns' width (leases, runs, guard window)


def host() -> str:
    """This host's name, as holders spell it."""
    return socket.gethostname()[:HOST_CHARS]


def holder(*, unique: bool = False, limit: int = COLUMN) -> str:
    """`host:pid`, or `host:pid:random` when `unique` (a pid can be reused after a crash, and two
    workers of one process must differ), in at most `limit` characters: the host is cut, never the pid."""
    tail = f":{os.getpid()}" + (f":{uuid.uuid4().hex[:8]}" if unique else "")
    return host()[: max(0, limit - len(tail))] + tail
