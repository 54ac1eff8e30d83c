"""Clocks that disagree (SQLite and PostgreSQL): a process whose clock runs ahead takes no live company
lease, no live intake claim and no periodic job's slot early, and creates no duplicate; a run killed on
another host is closed as interrupted, counting its changes, once its heartbeat is older than its lease.
Real processes whose clock is moved by tests/skew/sitecustomize.py; the database's clock stays right."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from crmsync.domain import LedgerState, Trigger
from crmsync.sandbox.faults import Mode
from crmsync.serving.schedule import PeriodicJob
from crmsync.store.intake import IntakeStore, NewEvent
from crmsync.store.leases import LeaseBook
from crmsync.store.repository import Store
from tests.e2e import test_concurrency
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import overrides_per_pair
from tests.e2e.test_concurrency import config, finish, start

state_url, many = test_concurrency.state_url, test_concurrency.many  # the same fixtures: both databases

SKEW = 90.0  # seconds ahead: more than a lease, as the 45-120 s
SKEWED = {"SKEWED_CLOCK_SECONDS": str(SKEW), "PYTHONPATH": str(Path(__file__).parents[1] / "skew")}


def skewed(code: str, url: str) -> str:
    """Run `code` (Python, `URL` bound to the state database) in a process whose clock runs SKEW ahead;
    its stdout."""
    env = {**os.environ, **SKEWED}
    done = subprocess.run(
        [sys.executable, "-c", f"URL = {url!r}\n{code}"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def intents(url: str) -> int:
    """Unconfirmed create intents in the ledger."""
    store = Store(url)
    try:
        return sum(1 for o in store.owned() if o.status == LedgerState.INTENT)
    finally:
        store.close()


def test_the_skewed_child_clock_runs_ahead() -> None:
    """The harness is not vacuous: without the skew taking effect every test below would pass anyway."""
    code = (
        "import time, datetime\nprint(round(time.time() - time.monotonic()), "
        "round(datetime.datetime.now().timestamp() - time.time()))"
    )
    child_offset, child_now_lag = (int(x) for x in skewed(code, "").split())
    assert abs(child_offset - round(time.time() - time.monotonic()) - SKEW) < 5
    assert abs(child_now_lag) < 5  # datetime.now() moves with time.time()


def test_a_process_whose_clock_runs_ahead_takes_no_live_lease(state_url: str) -> None:
    """A company lease held for 60 s is not free to a process 90 s ahead: the database's clock judges."""
    store = Store(state_url)
    try:
        assert LeaseBook(store, ttl=60.0, holder="here").try_acquire(["company:comp_x"]) == ["company:comp_x"]
        code = (
            "from crmsync.store.repository import Store\nfrom crmsync.store.leases import LeaseBook\n"
            "print(LeaseBook(Store(URL), ttl=60.0, holder='ahead').try_acquire(['company:comp_x']))"
        )
        assert skewed(code, state_url) == "[]"
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT name, holder FROM leases").all() == [("company:comp_x", "here")]
    finally:
        store.close()


def test_a_serve_replica_whose_clock_runs_ahead_takes_no_live_intake_claim(state_url: str) -> None:
    """A hint and a company claimed for 30 s by one replica are not claimed by a replica 90 s ahead."""
    store = Store(state_url)
    try:
        intake = IntakeStore(store.engine)
        intake.add_events([NewEvent("hubspot", "deal.propertyChange", "1", "k1")])
        intake.enqueue_companies(["comp_x"], Trigger.WEBHOOK)
        assert len(intake.claim_events("here", 10, lease=30)) == 1
        assert len(intake.claim_companies("here", 10, lease=30)) == 1
        code = (
            "from crmsync.store.repository import Store\nfrom crmsync.store.intake import IntakeStore\n"
            "intake = IntakeStore(Store(URL).engine)\n"
            "print(len(intake.claim_events('ahead', 10, lease=30)), len(intake.claim_companies('ahead', 10, lease=30)))"
        )
        assert skewed(code, state_url) == "0 0"
    finally:
        store.close()


def test_a_serve_replica_whose_clock_runs_ahead_runs_no_periodic_job_twice(state_url: str) -> None:
    """A one-minute job fired by one replica is not fired again in the same minute by a replica 90 s ahead
    (whose own clock is already in a later slot): replicas agree on the slot by the database's clock."""
    store = Store(state_url)
    try:
        intake = IntakeStore(store.engine)
        if intake.now().second >= 45:  # leave the skewed child the rest of this minute to fire in
            time.sleep(61 - intake.now().second)
        assert PeriodicJob("poll", 60, lambda: None).fire(intake, "here")
        code = (
            "from crmsync.store.repository import Store\nfrom crmsync.store.intake import IntakeStore\n"
            "from crmsync.serving.schedule import PeriodicJob\n"
            "print(PeriodicJob('poll', 60, lambda: None).fire(IntakeStore(Store(URL).engine), 'ahead'))"
        )
        assert skewed(code, state_url) == "False"
    finally:
        store.close()


def test_two_applies_with_skewed_clocks_create_no_duplicate(many: Harness, tmp_path: Path) -> None:
    """One apply's create is slow to land; an apply 90 s ahead starts meanwhile: it waits for the live
    lease instead of taking it (and deleting the first one's intent), then finds the override: 0 duplicates."""
    many.apply()
    many.sb.hubspot.add_company("7001", "Company 7001")
    many.sb.schematic.add_company("Company 7001", {"hubspot_company_id": "7001"})
    props = {"dealname": "7001 seats", "pipeline": "default", "dealstage": "closedwon", "seats_purchased": "10"}
    many.sb.hubspot.add_deal(properties={**props, "closedate": "2026-05-01T12:00:00Z"}, company_ids=["7001"])
    many.sb.faults.schematic.add(Mode.DELAY, method="POST", path="/company-overrides", seconds=8.0, times=1)
    first = start(many, config(tmp_path), "apply", "--yes")
    deadline = time.monotonic() + 60
    while intents(many.settings.database_url) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)  # the first apply has committed its intent and is sending the create
    assert intents(many.settings.database_url) == 1, "the first apply never started its create"
    conf = config(tmp_path)
    env = {**os.environ, **many.env(), **SKEWED, "CRMSYNC_CONFIG": str(conf), "NO_COLOR": "1"}
    second = subprocess.Popen(
        [sys.executable, "-c", "from crmsync.cli import main; main()", "apply", "--yes"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    (code1, out1), (code2, out2) = finish(first), finish(second)
    assert code1 == 0 and code2 == 0, (out1, out2)
    duplicates = sum(n - 1 for n in overrides_per_pair(many).values())
    print(f"\nduplicates under a {SKEW:.0f} s clock skew: {duplicates}")
    assert duplicates == 0
    assert intents(many.settings.database_url) == 0
    assert many.plan().plan.is_empty


def test_a_run_killed_on_another_host_is_closed_as_interrupted_with_its_changes(many: Harness, tmp_path: Path) -> None:
    """SIGKILL an apply part way, as if on another host (no pid to check): once its heartbeat is older than
    its 4 s lease, `status` shows it interrupted with the creates it made, not running or "no changes"."""
    many.sb.schematic.hang_after_commit("POST", "/company-overrides", 0.3, times=20)
    victim = start(many, config(tmp_path, lease=4.0, in_flight=2), "apply", "--yes")
    store = Store(many.settings.database_url)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(c.ok for r in store.runs() for c in store.run_changes(r.id or 0)):
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=30)
        (run,) = store.runs()
        with store.engine.begin() as conn:  # it ran on another host: this one cannot see its process
            conn.exec_driver_sql(f"UPDATE runs SET holder = 'elsewhere.example:4242' WHERE id = {run.id}")
        made = sum(1 for c in store.run_changes(run.id or 0) if c.ok and c.action == "create")
        assert made > 0
        assert store.close_dead_runs() == 0  # its heartbeat is younger than its lease: it may be alive
        time.sleep(5.0)
        code, output = finish(start(many, config(tmp_path), "status", "--json"))
        assert code == 0, output
        (closed,) = json.loads(output[output.index("{") :])["runs"]
        assert closed["status"] == "interrupted" and closed["counts"]["create"] == made, closed
        code, output = finish(start(many, config(tmp_path), "status"))
        assert f"interrupted: {made} create" in output, output
        assert f"after {made} create" in output, output
    finally:
        store.close()
