"""Helper threads that leave signals to the main thread. The kernel hands a process-directed SIGINT
or SIGTERM to any thread that does not block it; when a helper thread (a run's heartbeat, a write
worker) gets it, Python only sets a flag and the main thread, blocked in a read at the `[y/N]`
prompt, never wakes to raise KeyboardInterrupt. Every helper thread calls `leave_signals_to_main()`
first. Used by the service's heartbeat, apply's write pool and serve's worker threads.
"""

from __future__ import annotations

import signal


def leave_signals_to_main() -> None:
    """Block SIGINT and SIGTERM in the calling (non-main) thread, so the kernel delivers them to the
    main thread, where Python runs its handlers."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
