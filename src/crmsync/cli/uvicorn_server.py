"""The uvicorn server `crmsync serve` and `crmsync ui` run: it stops on SIGINT/SIGTERM as uvicorn does
(a second Ctrl-C forces it), but does not re-raise the signal once stopped, so what follows `run()`
runs and a server that stopped cleanly exits 0, not 130 or 143 (the CLI would read a re-raised
SIGINT as a cancelled command)."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from typing import Any


def clean_server(config: Any) -> Any:
    """A `uvicorn.Server` over `config` whose stop on a signal is an ordinary return of `run()`."""
    import signal
    import threading

    import uvicorn

    class _Server(uvicorn.Server):
        @contextmanager
        def capture_signals(self) -> Generator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            handled = (signal.SIGINT, signal.SIGTERM)
            original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    return _Server(config)
