"""Several crmsync processes at once on one state database (SQLite and PostgreSQL): concurrent
applies make every override exactly once, a saved plan is applied once, a killed process's leases
expire, and a CRM change made meanwhile converges on the next run. Real processes, real sockets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from crmsync.service.apply import AHEAD
from crmsync.store.repository import Store
from tests.databases import new_postgres_database
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import add_seat_deals, hubspot_only, overrides_per_pair

COMPANIES = 60


@pytest.fixture(params=["sqlite", "postgres"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh state database: a SQLite file, or a new PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/state.db"
        return
    with new_postgres_database() as url:
        yield url


@pytest.fixture
def many(harness: Harness, tmp_path: Path, state_url: str) -> Harness:
    """The sample's HubSpot side plus 60 companies with one won seats deal each, on `state_url`."""
    add_seat_deals(harness, COMPANIES)
    hub = hubspot_only(harness, tmp_path)
    return Harness(hub.sb, replace(hub.settings, database_url=state_url))


def config(tmp_path: Path, *, lease: float = 60.0, wait: float = 60.0, in_flight: int = 8) -> Path:
    """A config file with no client-side pacing (the sandbox has no rate limit), `in_flight` writes at
    once and the given leases."""
    path = tmp_path / f"crmsync-{uuid.uuid4().hex[:6]}.toml"
    path.write_text(
        f"[schematic]\nwrites_per_second = 0\nmax_in_flight = {in_flight}\n"
        "[hubspot]\nsearches_per_second = 0\nbackoff = 0.01\n"
        f"[locks]\nlease_seconds = {lease}\nwait_seconds = {wait}\n"
    )
    return path


def start(h: Harness, conf: Path, *args: str) -> subprocess.Popen[str]:
    """`crmsync ARGS` as a separate process against the harness's sandbox and state database."""
    env = {**os.environ, **h.env(), "CRMSYNC_CONFIG": str(conf), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, "-c", "from crmsync.cli import main; main()", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    """Wait for a process (bounded); its exit code and output."""
    output, _ = process.communicate(timeout=240)
    return process.returncode, output


def desired_pairs(h: Harness) -> int:
    """How many overrides the deals want: one full plan's creates on a fresh database."""
    return len(h.plan().plan.changes)


def assert_each_pair_once(h: Harness) -> None:
    """No company+feature has two overrides."""
    assert [pair for pair, n in overrides_per_pair(h).items() if n > 1] == []


def ledger_rows(h: Harness) -> list[tuple[str, str]]:
    """The (company, feature) of every live ledger row."""
    store = Store(h.settings.database_url)
    try:
        return sorted((o.company_id, o.feature_id) for o in store.owned())
    finally:
        store.close()


@pytest.mark.parametrize("processes", [2, 4])
def test_concurrent_applies_create_each_override_exactly_once(many: Harness, tmp_path: Path, processes: int) -> None:
    """N `apply --yes` at once: exactly the wanted creates, no duplicate, each exits 0 (or says busy)."""
    wanted = desired_pairs(many)
    many.sb.schematic.hang_after_commit("POST", "/company-overrides", 0.02, times=10_000)  # let the runs overlap
    conf = config(tmp_path)
    runs = [start(many, conf, "apply", "--yes") for _ in range(processes)]
    results = [finish(p) for p in runs]
    for code, output in results:
        assert code == 0 or (code == 1 and "busy" in output), output
    assert many.sb.schematic.write_count == wanted, [o for _, o in results]
    assert_each_pair_once(many)
    assert len(ledger_rows(many)) == wanted == len(set(ledger_rows(many)))
    replanned = sum(int(o.split(" company(ies) had changed")[0].split()[-1]) for _, o in results if "had changed" in o)
    busy = sum(1 for _, o in results if "busy" in o)
    print(
        f"\n{processes} processes: {wanted} creates wanted, {many.sb.schematic.write_count} made, 0 duplicates, "
        f"{replanned} companies re-planned under their lease, {busy} process(es) reported busy"
    )


def test_a_saved_plan_applied_twice_at_once_is_applied_once(many: Harness, tmp_path: Path) -> None:
    """Two `apply FILE` of one saved plan at once: one applies it, the other refuses (exit 3) saying why."""
    conf = config(tmp_path)
    plan_file = tmp_path / "plan.json"
    code, output = finish(start(many, conf, "plan", "--out", str(plan_file)))
    assert code == 0, output
    wanted = desired_pairs(many)
    many.sb.schematic.hang_after_commit("POST", "/company-overrides", 0.02, times=10_000)
    results = sorted(finish(p) for p in [start(many, conf, "apply", str(plan_file)) for _ in range(2)])
    (ok_code, _), (refused_code, refused) = results
    assert (ok_code, refused_code) == (0, 3), results
    assert "being applied" in refused or "applying this plan right now" in refused or "already applied" in refused
    assert many.sb.schematic.write_count == wanted
    assert_each_pair_once(many)


def test_a_crm_change_during_concurrent_applies_converges_on_the_next_run(many: Harness, tmp_path: Path) -> None:
    """Deals change while two applies run: the next apply brings Schematic to exactly what the deals say."""
    conf = config(tmp_path)
    many.sb.schematic.hang_after_commit("POST", "/company-overrides", 0.02, times=10_000)
    runs = [start(many, conf, "apply", "--yes") for _ in range(2)]
    changed = [d for d in many.sb.hubspot.deals.values() if d.properties.get("dealname", "").startswith("600")][:3]
    assert len(changed) == 3
    time.sleep(0.5)
    for deal in changed:
        many.sb.hubspot.update_deal(deal.id, seats_purchased="33")
    for process in runs:
        code, output = finish(process)
        assert code in (0, 1), output
    code, output = finish(start(many, conf, "apply", "--yes"))
    assert code == 0, output
    writes = many.sb.schematic.write_count
    code, output = finish(start(many, conf, "apply", "--yes"))
    assert code == 0 and many.sb.schematic.write_count == writes, output  # converged: nothing left to do
    assert_each_pair_once(many)
    assert sum(1 for r in many.sb.schematic.overrides.values() if r["value_numeric"] == 33) == 3


def test_a_killed_process_holding_leases_blocks_the_next_run_only_until_they_expire(
    many: Harness, tmp_path: Path
) -> None:
    """SIGKILL an apply mid-way (its leases held): the next apply waits out the 2 s lease and converges."""
    in_flight = 2
    # At most AHEAD * in_flight writes are sent and not yet recorded at any moment: those prepared (their
    # intents committed) go out as workers free up, before the outcomes that freed them are committed.
    unrecorded = AHEAD * in_flight
    many.sb.schematic.hang_after_commit("POST", "/company-overrides", 0.3, times=20)
    victim = start(many, config(tmp_path, lease=2.0, in_flight=in_flight), "apply", "--yes")
    deadline = time.monotonic() + 60
    while many.sb.schematic.write_count < 3 + unrecorded and time.monotonic() < deadline:
        time.sleep(0.05)
    assert many.sb.schematic.write_count >= 3 + unrecorded, "the apply never started writing"
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    killed_at = many.sb.schematic.write_count
    code, output = finish(start(many, config(tmp_path, lease=2.0, wait=30.0), "apply", "--yes"))
    assert code == 0, output
    assert_each_pair_once(many)
    assert len(ledger_rows(many)) == desired_pairs_now(many)
    code, output = finish(start(many, config(tmp_path), "status", "--json"))
    runs = json.loads(output[output.index("{") :])["runs"]
    killed = [r for r in runs if r["status"] == "interrupted" and r["command"] == "apply"]
    assert len(killed) == 1, runs  # the killed run is in the history, not left `running`
    store = Store(many.settings.database_url)
    try:
        made = [c for c in store.run_changes(killed[0]["id"]) if c.ok]
        assert len(made) >= killed_at - unrecorded  # its writes (those under way may not have answered yet)
    finally:
        store.close()
    print(f"\nkilled after {killed_at} writes; the next run converged; the killed run shows as interrupted")


def desired_pairs_now(h: Harness) -> int:
    """Overrides crmsync manages once converged: a plan is empty and the ledger matches Schematic."""
    run = h.plan()
    assert run.plan.is_empty, run.plan.changes
    return sum(1 for o in run.owned if o.override_id)


def test_an_interrupted_apply_is_recorded_as_interrupted_with_its_writes(many: Harness, tmp_path: Path) -> None:
    """Ctrl-C (SIGINT) part way: the run ends `interrupted` in the history, with the changes it made."""
    many.sb.schematic.hang_after_commit("POST", "/company-overrides", 0.3, times=20)
    process = start(many, config(tmp_path), "apply", "--yes")
    deadline = time.monotonic() + 60
    while many.sb.schematic.write_count < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    code, output = finish(process)
    assert code == 130, output
    store = Store(many.settings.database_url)
    try:
        (run,) = [r for r in store.runs() if r.command == "apply"]
        assert run.status == "interrupted" and run.finished_at is not None
        assert len([c for c in store.run_changes(run.id or 0) if c.ok]) >= 2
    finally:
        store.close()
