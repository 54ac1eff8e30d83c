"""The CLI's two rich consoles (stdout for results, stderr for messages), built on first use.

Importing rich.console costs ~0.1 s; `crmsync --help` and `--version` print without it, so
cli/__init__.py hands commands a `LazyConsole` that builds the real `Console` when first used. Plain
text (`markup=False, emoji=False`) bound for a pipe or a file is written without rich at all, as
rich would write it there: `validate --offline` in a script never imports rich.
"""

from __future__ import annotations

import sys
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

    def print(self, *objects: Any, **options: Any) -> None:
        """`Console.print`; plain text (markup and emoji off) for a pipe or file is written without rich,
        exactly as rich would write it there (no colour, no wrapping, control codes dropped)."""
        if self._console is None and _plain(objects, options) and not self._terminal():
            stream = sys.stderr if self._stderr else sys.stdout
            text = options.get("sep", " ").join(objects).translate(_CONTROL) + options.get("end", "\n")
            stream.write(text)
            return
        self.real().print(*objects, **options)

    def _terminal(self) -> bool:
        from crmsync.settings import any_set  # at use: settings are not on `--help`'s import path

        if any_set(_TERMINAL_ENV):
            return True  # rich would colour or treat the stream as a terminal
        stream = sys.stderr if self._stderr else sys.stdout
        isatty = getattr(stream, "isatty", None)
        return bool(isatty and isatty())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)

    def __enter__(self) -> Console:  # dunders bypass __getattr__: `with console:` buffers its output
        return self.real().__enter__()

    def __exit__(self, *exc: object) -> None:
        self.real().__exit__(*exc)


_PLAIN_OPTIONS = {"markup", "emoji", "highlight", "end", "sep", "soft_wrap"}
_TERMINAL_ENV = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "JUPYTER_COLUMNS", "JUPYTER_LINES")
_CONTROL = dict.fromkeys((7, 8, 11, 12, 13))  # what rich's Text drops (bell, backspace, VT, FF, CR)


def _plain(objects: tuple[Any, ...], options: dict[str, Any]) -> bool:
    """Strings printed with markup and emoji off and nothing but separators asked for."""
    return (
        all(type(o) is str and "\t" not in o for o in objects)
        and options.get("markup") is False
        and options.get("emoji") is False
        and not options.get("highlight")
        and options.keys() <= _PLAIN_OPTIONS
    )


def real_console(console: Console) -> Console:
    """The rich Console behind `console` (itself unless it is a LazyConsole)."""
    lazy = cast("object", console)
    return lazy.real() if isinstance(lazy, LazyConsole) else console


def lazy_console(*, stderr: bool = False) -> Console:
    """A console for stdout (or stderr), typed as the rich Console it stands for."""
    return cast("Console", LazyConsole(stderr=stderr))
