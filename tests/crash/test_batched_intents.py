"""A crash between a batch of intents and its confirmations: `crmsync apply` (writing concurrently)
is SIGKILLed while a whole batch of creates is committed by Schematic and none of their answers has
come back. The batch's intents were durable before the creates left; the next apply finds every one
of those overrides by its token: no duplicate, no orphan, no intent left behind.
"""

from __future__ import annotations

import signal
from pathlib import Path

from crmsync.domain import LedgerState
from crmsync.reconcile.note import note_token
from crmsync.sandbox.faults import Mode
from crmsync.sandbox.schematic_model import Record
from crmsync.store.repository import Store
from tests.crash.test_crash import crmsync_apply, wait_for
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import add_seat_deals, assert_converged, carries_crmsync_note

IN_FLIGHT = 8  # the default `[schematic] max_in_flight`


def _tokens(record: Record) -> set[str | None]:
    return {note_token(n["note"]) for n in record["notes"]}


def test_killed_after_a_batch_of_intents_before_any_confirmation_converges(harness: Harness, tmp_path: Path) -> None:
    """Every create answers only after 10 s: kill once 8 are committed in Schematic. The ledger holds
    their intents (and no confirmation); the next apply adopts each by its token and converges."""
    add_seat_deals(harness, 20)
    harness.sb.faults.schematic.add(Mode.LATENCY, method="POST", path="/company-overrides", seconds=10)
    base = harness.sb.schematic.write_count
    process = crmsync_apply(harness, tmp_path)
    wait_for(lambda: harness.sb.schematic.write_count >= base + IN_FLIGHT, process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.stderr is not None
    process.stderr.close()
    harness.sb.faults.clear()

    made = {i: r for i, r in harness.sb.schematic.overrides.items() if carries_crmsync_note(r)}
    assert len(made) >= IN_FLIGHT  # several creates under way at once, all committed, none answered
    store = Store(harness.settings.database_url)
    try:
        rows = store.owned()
    finally:
        store.close()
    intents = {o.token for o in rows if o.status == LedgerState.INTENT}
    assert not [o for o in rows if o.status == LedgerState.ACTIVE]  # no answer came: nothing confirmed
    assert all(_tokens(r) & intents for r in made.values())  # each made override's intent was recorded first

    _, report = harness.apply()
    assert report.ok, report.failed
    assert harness.plan().plan.is_empty
    assert_converged(harness)  # no duplicate, no orphan, no intent left
    noted = {i for i, r in harness.sb.schematic.overrides.items() if carries_crmsync_note(r)}
    assert set(made) <= noted  # the killed run's overrides were found, not made again
