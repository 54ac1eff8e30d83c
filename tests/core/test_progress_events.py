"""Progress events: nothing happens without a listener; a listener hears every event only while it
listens; the terminal display words them (deals and pages per CRM, pacing, companies, writes)."""

from __future__ import annotations

import io
import threading

from rich.console import Console

from crmsync import progress
from crmsync.cli.progress import Display, pacing_text


def test_a_listener_hears_events_only_while_it_listens() -> None:
    """Events emitted inside `listening` reach the listener, from any thread; none before or after the
    block (with nobody listening, emit() does nothing and does not fail)."""
    heard: list[progress.Event] = []
    progress.emit(progress.PageRead("hubspot", 200))
    with progress.listening(heard.append):
        progress.emit(progress.PageRead("hubspot", 3))
        thread = threading.Thread(target=progress.emit, args=(progress.WriteDone(ok=False),))
        thread.start()
        thread.join()
    progress.emit(progress.PageRead("hubspot", 4))
    assert heard == [progress.PageRead("hubspot", 3), progress.WriteDone(ok=False)]


def test_the_pacing_line_says_whose_rate_limit_makes_the_call_wait() -> None:
    """While a wait runs: "waiting 0.8 s for the HubSpot rate limit"; after it: paced so far."""
    assert pacing_text("hubspot.search", 0.8, until=10.0, now=9.5, waits=1, waited=0.8) == (
        "waiting 0.8 s for the HubSpot rate limit (1 wait, 0.8 s in all)"
    )
    assert pacing_text("schematic.writes", 0.2, until=10.0, now=10.5, waits=3, waited=0.6) == (
        "paced by the Schematic rate limit (3 waits, 0.6 s in all)"
    )


def test_the_display_shows_deals_and_pages_per_source_pacing_companies_and_writes() -> None:
    """Fed a plan's and an apply's events, the display reads: deals and pages per CRM, pacing, companies
    planned (a re-plan while applying leaves that line alone), writes applied N/M."""
    console = Console(file=io.StringIO(), force_terminal=True, width=160, color_system=None)
    display = Display(console, "Reading deals and live overrides…")
    display.hear(progress.Planning("reading", 6))
    for deals in (200, 200, 31):
        display.hear(progress.PageRead("hubspot", deals))
    display.hear(progress.PageRead("salesforce", 6))
    display.hear(progress.RateWait("hubspot.search", 0.8))
    display.hear(progress.Planning("planned", 6))
    display.expect_writes(4)
    for ok in (True, True, False):
        display.hear(progress.WriteDone(ok=ok))
    display.hear(progress.Planning("reading", 1))  # a company re-planned under its lease: the plan's line stays
    console.print(display.progress.get_renderable())
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "HubSpot deals read: 431 (3 pages)" in text
    assert "Salesforce deals read: 6 (1 page)" in text
    assert "waiting 0.8 s for the HubSpot rate limit (1 wait, 0.8 s in all)" in text
    assert "Companies planned" in text and "6/6" in text
    assert "Writes applied" in text and "3/4" in text
