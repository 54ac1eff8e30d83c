"""The CLI's lazy console writes plain text for a pipe without rich, exactly as rich would."""

from __future__ import annotations

import io
import sys

import pytest
from rich.console import Console

from crmsync.cli.consoles import LazyConsole

TEXTS = [
    ("3 mapping file(s), 6 rule(s) in mappings: valid.",),
    ("bell\x07 and carriage\r return, form\x0c feed",),
    ("[bold]not markup[/bold] :smile: not an emoji",),
    ("a line far wider than any terminal " * 8,),
    ("two", "strings"),
]


@pytest.fixture
def plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No variable that makes rich treat a pipe as a terminal."""
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "JUPYTER_COLUMNS", "JUPYTER_LINES"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("plain_env")
@pytest.mark.parametrize("objects", TEXTS)
@pytest.mark.parametrize("options", [{}, {"end": ""}, {"sep": " | ", "end": "\n\n"}])
def test_plain_text_for_a_pipe_is_what_rich_writes(
    objects: tuple[str, ...], options: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = io.StringIO()
    monkeypatch.setattr(sys, "stdout", ours)
    lazy = LazyConsole()
    lazy.print(*objects, markup=False, emoji=False, **options)
    theirs = io.StringIO()
    Console(file=theirs, highlight=False, soft_wrap=True).print(*objects, markup=False, emoji=False, **options)
    assert ours.getvalue() == theirs.getvalue()
    assert lazy._console is None  # rich was not needed


@pytest.mark.usefixtures("plain_env")
def test_markup_colour_or_a_forced_terminal_go_through_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    lazy = LazyConsole()
    lazy.print("[bold]bold[/bold]")  # markup on: rich renders it (no tags left)
    assert out.getvalue() == "bold\n"
    assert lazy._console is not None
    monkeypatch.setenv("FORCE_COLOR", "1")
    forced = LazyConsole()
    forced.print("plain", markup=False, emoji=False)
    assert forced._console is not None
