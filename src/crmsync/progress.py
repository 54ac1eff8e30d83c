"""Progress events of long work (`plan`, `apply`): what the edges and the service have got through.

The edges and the service call `emit(...)` at a few places — a CRM page read (connectors), a wait
for a rate budget (pacing), a planning stage (service/planning.py), a write's result (service/apply.py)
— and forget about it: with no listener (the default; `serve`, tests, piped output) an event costs
a tuple check and goes nowhere. The CLI subscribes a rich display (cli/progress.py) with
`listening(...)` only on a terminal without `--json`. Events are facts, not text: the listener words
them. Listeners may be called from several threads (the write pool) and must not raise.

Pure and I/O-free, in its own layer beside logs: every layer above may emit, the pure core may not.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class PageRead:
    """One page of deals read from a CRM: `deals` records on it (the listener counts pages and deals)."""

    source: str  # "hubspot" | "salesforce"
    deals: int


@dataclass(frozen=True)
class RateWait:
    """A rate budget makes a call wait `seconds` (pacing, before the call is sent)."""

    budget: str  # e.g. "hubspot.search", "schematic.writes"
    seconds: float


@dataclass(frozen=True)
class Planning:
    """A planning stage reached: `companies` in scope (reading), or planned (planned)."""

    stage: str  # "reading": Schematic's companies known, deals being read; "planned": the plan is built
    companies: int


@dataclass(frozen=True)
class WriteDone:
    """One change applied (or failed) in Schematic."""

    ok: bool


Event = PageRead | RateWait | Planning | WriteDone
Listener = Callable[[Event], None]

_listeners: tuple[Listener, ...] = ()
_lock = threading.Lock()


def emit(event: Event) -> None:
    """Tell every listener (none by default: nothing happens)."""
    for listener in _listeners:
        listener(event)


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """`listener` hears every event emitted while the block runs (from any thread)."""
    global _listeners
    with _lock:
        _listeners = (*_listeners, listener)
    try:
        yield
    finally:
        with _lock:
            _listeners = tuple(x for x in _listeners if x is not listener)
