"""The state database as found on a machine: read-only, unopenable, or at its default place.
`status` and `plan --json` still read a database crmsync may not write (nothing is recorded, and
they say so, naming it); apply refuses it before any write; a database that cannot be opened is one
line naming it. Run as root, the read-only cases start crmsync without the capabilities that let
root write any file (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from crmsync.settings import default_database_url
from crmsync.store.repository import Store
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import add_seat_deals, invoke


def run_crmsync(h: Harness, *args: str) -> subprocess.CompletedProcess[str]:
    """`crmsync …` in a process of its own that file permissions bind (also when the tests run as root)."""
    command = [sys.executable, "-c", "from crmsync.cli import main; main()", *args]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")  # util-linux
        if setpriv is None:
            pytest.skip("running as root without setpriv: root would write the read-only database anyway")
        command = [setpriv, "--bounding-set=-dac_override,-dac_read_search", *command]
    return subprocess.run(
        command,
        env={**h.env(), "PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1", "HOME": "/nonexistent"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def locked(harness: Harness, tmp_path: Path) -> Iterator[Harness]:
    """The sample applied into a database whose file and folder are then made read-only."""
    folder = tmp_path / "locked"
    folder.mkdir()
    h = replace(harness, settings=replace(harness.settings, database_url=f"sqlite:///{folder}/state.db"))
    assert invoke(h, "apply", "--yes").exit_code == 0
    (folder / "state.db").chmod(0o444)
    folder.chmod(0o555)
    yield h
    folder.chmod(0o755)


def runs_in(h: Harness) -> int:
    store = Store(h.settings.database_url, readonly=True)
    try:
        return len(store.runs())
    finally:
        store.close()


def test_status_reads_a_read_only_database(locked: Harness) -> None:
    """`status --json` prints the runs and names the database, read-only, on stderr."""
    result = run_crmsync(locked, "status", "--json")
    assert result.returncode == 0, result.stderr
    assert [r["command"] for r in json.loads(result.stdout)["runs"]] == ["apply"]
    assert f"State database: {locked.settings.database_url} (read-only" in result.stderr


def test_plan_json_reads_a_read_only_database_and_records_nothing(locked: Harness) -> None:
    """`plan --json` plans from the read-only ledger (nothing to do), says the run is not recorded."""
    before = runs_in(locked)
    result = run_crmsync(locked, "plan", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["summary"] == {"create": 0, "update": 0, "delete": 0}
    assert "read-only: this run is not recorded" in result.stderr
    assert runs_in(locked) == before


def test_apply_refuses_a_read_only_database_before_any_write(locked: Harness) -> None:
    """With a change to make, apply exits 3 naming the database; Schematic gets no write."""
    add_seat_deals(locked, 1)
    writes = locked.sb.schematic.write_count
    result = run_crmsync(locked, "apply", "--yes")
    assert result.returncode == 3, result.stdout + result.stderr
    assert f"the state database {locked.settings.database_url} is read-only" in result.stderr
    assert "Traceback" not in result.stderr and locked.sb.schematic.write_count == writes


@pytest.mark.parametrize(
    ("make", "says"),
    [
        pytest.param(lambda p: p.write_text("not a database\n" * 300), "file is not a database", id="not-a-database"),
        pytest.param(lambda p: None, "does not exist", id="missing-folder"),
    ],
)
def test_a_state_database_that_cannot_be_opened_is_one_line(
    harness: Harness, tmp_path: Path, make: object, says: str
) -> None:
    """`status` on a database that cannot be opened: exit 1, one line naming it, no traceback."""
    path = tmp_path / ("junk.db" if says != "does not exist" else "missing/state.db")
    assert callable(make)
    make(path)
    result = invoke(harness, "status", env={"CRMSYNC_DATABASE_URL": f"sqlite:///{path}"})
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert f"cannot open sqlite:///{path}" in result.output and says in result.output


def test_the_default_database_is_one_per_user_not_per_folder(tmp_path: Path) -> None:
    """Without CRMSYNC_DATABASE_URL the ledger lives under XDG_STATE_HOME (or ~/.local/state), folder made."""
    assert default_database_url({"XDG_STATE_HOME": str(tmp_path / "state")}) == (
        f"sqlite:///{tmp_path}/state/crmsync/crmsync.db"
    )
    assert (tmp_path / "state" / "crmsync").is_dir()
    assert default_database_url({"HOME": str(tmp_path)}) == f"sqlite:///{tmp_path}/.local/state/crmsync/crmsync.db"


def test_plan_and_status_name_the_database_in_use(harness: Harness) -> None:
    """`plan` and `status` print the state database they use (a password never: it is redacted)."""
    url = harness.settings.database_url
    assert f"State database: {url}" in invoke(harness, "plan").output
    assert f"State database: {url}" in invoke(harness, "status").output
