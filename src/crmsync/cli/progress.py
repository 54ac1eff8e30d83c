"""What `plan` and `apply` show on a terminal while they work: a spinner on stderr saying what is
under way (reading deals and live overrides, then applying N changes). Silent when stderr is not a
terminal (piped, CI), with `--json`, and under `serve` (which logs instead): nothing is printed then.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console


class Status(Protocol):
    """A spinner line that can pause (for the plan and the prompt) and resume with new text."""

    def update(self, status: str) -> None:
        """Change what the line says."""

    def start(self) -> None:
        """Show the line (again)."""

    def stop(self) -> None:
        """Hide the line."""


class Silent:
    """The spinner when there is no terminal to draw it on: does nothing."""

    def update(self, status: str) -> None:
        """Nothing to update."""

    def start(self) -> None:
        """Nothing to show."""

    def stop(self) -> None:
        """Nothing to hide."""


@contextmanager
def working(console: Console, text: str, *, quiet: bool = False) -> Iterator[Status]:
    """A spinner saying `text` on `console` while the block runs, if it is a terminal and not `quiet`."""
    if quiet or not console.is_terminal:
        yield Silent()
        return
    with console.status(text) as status:
        yield status
