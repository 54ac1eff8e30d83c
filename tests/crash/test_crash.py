"""Crashes: `crmsync apply` is killed (SIGKILL) at a chosen write, either while the answer to a
committed write is pending (before the ledger could confirm it) or while the next write hangs
before it is committed. The next apply must converge: no duplicate, no unowned override touched,
the ledger's overrides exactly crmsync's in Schematic, and a later hand edit restored.

Small by default (CI): 4 kill points. Full size:
`CRMSYNC_CRASH_POINTS=20 python3 -m uv run pytest tests/crash`.
"""

from __future__ import annotations

import copy
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from crmsync.sandbox.faults import Mode
from tests.chaos.world import SEATS
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import add_seat_deals, carries_crmsync_note, ledger, overrides_per_pair

POINTS = int(os.environ.get("CRMSYNC_CRASH_POINTS", "4"))
WRITES = "/company-overrides"
EXTRA_COMPANIES = 12  # with the sample's 10 creates: 22 writes to kill among


def alone(h: Harness) -> Harness:
    """The harness with each run judged alone by the guards (ALONE)."""
    return Harness(h.sb, replace(h.settings, guards=replace(h.settings.guards, window_seconds=0.0)))


# ALONE: these runs follow each other within seconds: the updating apply's deletes and downgrades (booked
# in the guard's window, and kept when it is killed: it cannot say what it made) and then the hand edit's
# restore (a downgrade) add up past the window's budget, and the restore would be withheld, by design.
# Convergence after a kill is what is tested here.


def kill_points(count: int) -> list[tuple[int, str]]:
    """`count` (write number, moment) pairs spread over the first apply's writes, alternating moments."""
    total = 10 + EXTRA_COMPANIES
    moments = ("pending", "hanging", "updating")
    return [(1 + (n * (total - 1)) // max(1, count - 1) if count > 1 else 1, moments[n % 3]) for n in range(count)]


def crmsync_apply(h: Harness, tmp_path: Path) -> subprocess.Popen[bytes]:
    """`crmsync apply --yes` in its own process, against the harness's sandbox and state database."""
    config = tmp_path / "crmsync.toml"
    # a short lease: the next apply waits out the killed one's leases in seconds, as it would in minutes
    config.write_text(
        "[schematic]\nwrites_per_second = 0\n[hubspot]\nsearches_per_second = 0\n[locks]\nlease_seconds = 1\n"
        "[guards]\nwindow_seconds = 0\n"  # see ALONE
    )
    env = {**os.environ, **h.env(), "CRMSYNC_CONFIG": str(config)}
    command = [str(Path(sys.executable).parent / "crmsync"), "apply", "--yes"]
    return subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes], limit: float = 60.0) -> None:
    """Poll until `condition()` holds (fails if the process ends first or it takes too long)."""
    started = time.monotonic()
    while not condition():
        assert process.poll() is None, "apply ended before the kill point"
        assert time.monotonic() - started < limit, "the kill point was never reached"
        time.sleep(0.005)


@pytest.mark.parametrize(("write", "moment"), kill_points(POINTS))
def test_apply_killed_at_a_write_converges_on_the_next_apply(
    harness: Harness, tmp_path: Path, write: int, moment: str
) -> None:
    """SIGKILL at the n-th write (a create's or an update's answer pending, or a create hanging
    uncommitted); the next apply converges."""
    harness = alone(harness)
    deals = add_seat_deals(harness, EXTRA_COMPANIES)
    if moment == "updating":  # a first apply, then CRM changes: the killed apply updates and deletes
        assert harness.apply()[1].ok
        for n, deal_id in enumerate(deals):
            change = {"dealstage": "closedlost"} if n < 2 else {"seats_purchased": "77"}
            harness.sb.hubspot.update_deal(deal_id, **change)
        for deal_id in ("1001", "1010"):
            harness.sb.hubspot.update_deal(deal_id, seats_purchased="61")
        write = 1 + (write - 1) % EXTRA_COMPANIES  # the killed apply makes ~14 writes
    unowned = {i: copy.deepcopy(r) for i, r in harness.sb.schematic.overrides.items() if not carries_crmsync_note(r)}
    schematic = harness.sb.faults.schematic
    if moment in ("pending", "updating"):  # each write commits, then its answer waits: kill after the n-th commit
        schematic.add(Mode.LATENCY, method="*", path=WRITES, seconds=0.3)
        base = harness.sb.schematic.write_count
        process = crmsync_apply(harness, tmp_path)
        wait_for(lambda: harness.sb.schematic.write_count >= base + write, process)
    else:  # the n-th write hangs before it is committed: kill while it hangs
        schematic.add(Mode.HANG, method="*", path=WRITES, seconds=30, after=write - 1)
        process = crmsync_apply(harness, tmp_path)
        wait_for(lambda: schematic.injected[Mode.HANG] >= 1, process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.stderr is not None
    process.stderr.close()
    harness.sb.faults.clear()

    _, report = harness.apply()
    assert report.ok, report.failed
    assert harness.plan().plan.is_empty
    assert set(overrides_per_pair(harness).values()) == {1}
    noted = {i for i, r in harness.sb.schematic.overrides.items() if carries_crmsync_note(r)}
    assert ledger(harness)["active"] == noted
    assert all(harness.sb.schematic.overrides.get(i) == r for i, r in unowned.items())

    seats = [i for i in sorted(noted) if harness.sb.schematic.overrides[i]["feature_id"] == SEATS]
    override_id = seats[0]
    harness.sb.schematic.update_override(override_id, {"value_numeric": 99_999})  # a hand edit
    harness.apply()
    assert harness.sb.schematic.overrides[override_id]["value_numeric"] != 99_999  # crmsync still owns it
    for policy, edited in (("keep", seats[1]), ("fail", seats[2])):  # the ledger knows them: drift is judged
        strict = with_drift(harness, tmp_path, policy)
        harness.sb.schematic.update_override(edited, {"value_numeric": 12_345})
        run, _ = strict.apply()
        assert [d.override_id for d in run.plan.drift] == [edited], (policy, run.plan.drift)
        assert harness.sb.schematic.overrides[edited]["value_numeric"] == 12_345  # kept, or refused: untouched
        harness.sb.schematic.update_override(edited, {"value_numeric": run.plan.drift[0].last_applied.value_numeric})


def with_drift(h: Harness, tmp_path: Path, policy: str) -> Harness:
    """The same sandbox and ledger with every mapping file saying `drift: POLICY`."""
    folder = tmp_path / f"drift-{policy}"
    shutil.copytree(h.settings.mappings, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("tests"))
    for path in folder.glob("*.yaml"):
        path.write_text(path.read_text() + f"\ndrift: {policy}\n")
    return Harness(h.sb, replace(h.settings, mappings=folder))
