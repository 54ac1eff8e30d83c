"""The CLI's two rich consoles (stdout for results, stderr for messages), built on first use.

Importing rich.console costs ~0.1 s; `crmsync --help` and `--version` print without it, so
cli/__init__.py hands commands a `LazyConsole` that builds the real `Console` when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from rich.console import Console


class LazyConsole:
    """Stands for `Console(stderr=stderr, highlight=False, soft_wrap=True)`, built on first use."""

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def real(self) -> Console:
        """The Console itself (built now if not yet), for rich objects that hold one (Progress, Live)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr, highlight=False, soft_wrap=True)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)

    def __enter__(self) -> Console:  # dunders bypass __getattr__: `with console:` buffers its output
        return self.real().__enter__()

    def __exit__(self, *exc: object) -> None:
        self.real().__exit__(*exc)


def real_console(console: Console) -> Console:
    """The rich Console behind `console` (itself unless it is a LazyConsole)."""
    lazy = cast("object", console)
    return lazy.real() if isinstance(lazy, LazyConsole) else console


def lazy_console(*, stderr: bool = False) -> Console:
    """A console for stdout (or stderr), typed as the rich Console it stands for."""
    return cast("Console", LazyConsole(stderr=stderr))
