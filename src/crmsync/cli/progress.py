"""What `plan` and `apply` show on a terminal while they work, on stderr: a rich progress display
with a line for what is under way (reading, applying N changes), deals read per CRM with the page
count, the rate-limit pacing when a budget makes a call wait ("waiting 0.8 s for the HubSpot rate
limit"), the companies planned, and the writes applied with their rate and ETA.

It hears the events the edges and the service emit (crmsync/progress.py) only while `working(...)`
runs. Silent when stderr is not a terminal (piped, CI), with `--json`, and under `serve` (which logs
instead): then nothing listens and nothing is printed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TimeRemainingColumn,
)
from rich.text import Text

from crmsync import progress
from crmsync.cli.consoles import real_console

if TYPE_CHECKING:  # this module is imported by `plan` and `apply` only (cli/__init__.py): rich is fine here
    from rich.console import Console, RenderableType

SERVICES = {"hubspot": "HubSpot", "salesforce": "Salesforce", "schematic": "Schematic"}


class Status(Protocol):
    """The display: it can pause (for the plan and the prompt) and resume with new text."""

    def update(self, status: str) -> None:
        """Change what the top line says."""

    def start(self) -> None:
        """Show the display (again)."""

    def stop(self) -> None:
        """Hide the display."""

    def expect_writes(self, total: int) -> None:
        """`total` changes are about to be applied (the writes line counts towards it)."""


class Silent:
    """The display when there is no terminal to draw it on: does nothing."""

    def update(self, status: str) -> None:
        """Nothing to update."""

    def start(self) -> None:
        """Nothing to show."""

    def stop(self) -> None:
        """Nothing to hide."""

    def expect_writes(self, total: int) -> None:
        """Nothing to count."""


@contextmanager
def working(console: Console, text: str, *, quiet: bool = False) -> Iterator[Status]:
    """A progress display saying `text` on `console` while the block runs, if it is a terminal and not
    `quiet`; it shows the progress events emitted meanwhile."""
    if quiet or not console.is_terminal:
        yield Silent()
        return
    display = Display(real_console(console), text)
    with display.progress, progress.listening(display.hear):
        yield display


def service_of(budget: str) -> str:
    """`HubSpot` for the budget `hubspot.search`: whose rate limit it paces."""
    head = budget.split(".", 1)[0]
    return SERVICES.get(head, head)


def pacing_text(budget: str, seconds: float, until: float, now: float, waits: int, waited: float) -> str:
    """The pacing line: waiting now (and for how long), or paced so far (how often, how long in all)."""
    who = service_of(budget)
    head = f"waiting {seconds:.1f} s for the {who} rate limit" if now < until else f"paced by the {who} rate limit"
    return f"{head} ({waits} wait{'s' if waits != 1 else ''}, {waited:.1f} s in all)"


class Display:
    """The rich Progress behind `working`, and the listener that turns events into its lines."""

    def __init__(self, console: Console, text: str) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            _Words(),
            _When("counted", BarColumn(bar_width=20)),
            _When("counted", MofNCompleteColumn()),
            _When("rated", _Rate()),
            _When("rated", TimeRemainingColumn()),
            console=console,
            transient=True,
        )
        self._status = self.progress.add_task(text, total=None)
        self._lock = threading.Lock()  # events come from several threads (the write pool)
        self._sources: dict[str, tuple[TaskID | None, int, int]] = {}  # source → its line, pages, deals
        self._pacing: TaskID | None = None
        self._waits = [0, 0.0]  # how many waits, seconds in all
        self._companies: TaskID | None = None
        self._writes: TaskID | None = None

    def update(self, status: str) -> None:
        """Change what the top line says."""
        self.progress.update(self._status, description=status)

    def start(self) -> None:
        """Show the display (again)."""
        self.progress.start()

    def stop(self) -> None:
        """Hide the display."""
        self.progress.stop()

    def expect_writes(self, total: int) -> None:
        """The writes line, counting towards `total`, with rate and ETA."""
        with self._lock:
            if self._writes is None:
                self._writes = self.progress.add_task("Writes applied", total=total, counted=True, rated=True)
            else:
                self.progress.update(self._writes, total=total)

    def hear(self, event: progress.Event) -> None:
        """One progress event into the lines it moves."""
        with self._lock:
            if isinstance(event, progress.PageRead):
                self._page(event)
            elif isinstance(event, progress.RateWait):
                self._wait(event)
            elif isinstance(event, progress.Planning):
                self._planning(event)
            else:
                self._written()

    def _page(self, event: progress.PageRead) -> None:
        line, pages, deals = self._sources.get(event.source) or (None, 0, 0)
        pages, deals = pages + 1, deals + event.deals
        words = f"{service_of(event.source)} deals read: {deals:,} ({pages:,} page{'s' if pages != 1 else ''})"
        if line is None:
            line = self.progress.add_task(words, total=None)
        self.progress.update(line, description=words)
        self._sources[event.source] = (line, pages, deals)

    def _wait(self, event: progress.RateWait) -> None:
        self._waits = [self._waits[0] + 1, self._waits[1] + event.seconds]
        pacing = {"budget": event.budget, "seconds": event.seconds, "until": time.monotonic() + event.seconds}
        if self._pacing is None:
            self._pacing = self.progress.add_task("pacing", total=None, pacing=pacing, waits=self._waits)
        self.progress.update(self._pacing, pacing=pacing, waits=self._waits)

    def _planning(self, event: progress.Planning) -> None:
        if self._writes is not None:  # a company re-planned under its lease while applying: the plan's line stays
            return
        if self._companies is None:
            self._companies = self.progress.add_task("Companies planned", total=event.companies, counted=True)
        done = event.companies if event.stage == "planned" else 0
        self.progress.update(self._companies, total=event.companies, completed=done)

    def _written(self) -> None:
        if self._writes is None:
            self._writes = self.progress.add_task("Writes applied", total=None, counted=True, rated=True)
        task = self.progress.tasks[self._writes]
        if task.total is not None and task.completed + 1 > task.total:
            self.progress.update(self._writes, total=task.completed + 1)  # a re-plan under a lease found more
        self.progress.advance(self._writes)


class _Words(ProgressColumn):
    """A line's words; the pacing line is worded at each refresh (waiting now, or paced so far)."""

    def render(self, task: Task) -> RenderableType:
        pacing = task.fields.get("pacing")
        if pacing is None:
            return Text(task.description)
        waits, waited = task.fields["waits"]
        return Text(pacing_text(pacing["budget"], pacing["seconds"], pacing["until"], time.monotonic(), waits, waited))


class _When(ProgressColumn):
    """`column` on the lines that carry the field `flag` (counted: a bar and N/M; rated: rate and ETA)."""

    def __init__(self, flag: str, column: ProgressColumn) -> None:
        super().__init__()
        self.flag, self.column = flag, column

    def render(self, task: Task) -> RenderableType:
        return self.column.render(task) if task.fields.get(self.flag) and task.total is not None else Text("")


class _Rate(ProgressColumn):
    """Writes per second over the last 30 s (rich's estimate), once there is one."""

    def render(self, task: Task) -> RenderableType:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f}/s" if speed else "", style="progress.data.speed")
