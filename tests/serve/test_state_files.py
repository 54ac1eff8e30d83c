"""No acknowledged event lost: a SQLite file deleted, replaced or made read-only under a running app is
503 and not ready; serve refuses read-only state and a symlinked second instance with one line (exit 2).

Read-only is made with `chattr +i` (the immutable flag binds root too); tests needing it are skipped
where the file system has no such flag."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from crmsync.errors import ConfigError, ServiceUnavailable
from crmsync.store.instance import single_sqlite_instance
from crmsync.store.intake import IntakeStore, NewEvent
from crmsync.store.repository import Store
from tests.serve.signing import hubspot_headers
from tests.serve.test_serve_command import finish, free_port, start
from tests.store.conftest import new_postgres_database
from tests.web.conftest import HUBSPOT_SECRET, OPS_TOKEN, PORTAL, Served, serving


def post_event(served: Served, event_id: int) -> int:
    """POST one signed deal event; the status code."""
    body = json.dumps(
        [{"subscriptionType": "deal.creation", "objectId": event_id, "portalId": int(PORTAL), "eventId": event_id}]
    ).encode()
    headers = hubspot_headers(HUBSPOT_SECRET, served.url + "/webhooks/hubspot", body)
    return served.client.post("/webhooks/hubspot", content=body, headers=headers).status_code


@contextmanager
def immutable(path: Path) -> Iterator[None]:
    """`path` cannot be written (nor, for a folder, entered with new files) by anyone while the block runs."""
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"chattr +i is not available here: {made.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_deleted_database_file_is_503_and_not_ready(tmp_path: Path) -> None:
    """With the SQLite file deleted under a running app, webhooks get 503 (retried) and /readyz fails."""
    with serving(tmp_path) as served:
        served.tracker.succeeded("schematic")
        assert post_event(served, 1) == 200
        assert served.client.get("/readyz").status_code == 200
        (tmp_path / "state.db").unlink()
        assert [post_event(served, n) for n in range(2, 12)] == [503] * 10  # was 10 of 10 answered 200
        ready = served.client.get("/readyz")
        assert ready.status_code == 503


def test_a_replaced_database_file_is_503(tmp_path: Path) -> None:
    """A new file at the database's path is not the database opened: 503, nothing written into either."""
    with serving(tmp_path) as served:
        db = tmp_path / "state.db"
        db.rename(tmp_path / "moved.db")
        db.write_bytes(b"")
        assert post_event(served, 1) == 503
        reconcile = served.client.post("/reconcile", headers={"authorization": f"Bearer {OPS_TOKEN}"})
        assert reconcile.status_code == 503  # never a 202 on a database that is gone


def test_a_database_made_read_only_under_the_app_is_503(tmp_path: Path) -> None:
    """A database that became read-only is 503 before anything is acknowledged."""
    with serving(tmp_path) as served, immutable(tmp_path / "state.db"):
        assert post_event(served, 1) == 503
        assert served.client.get("/readyz").status_code == 503


def test_a_symlink_to_the_database_does_not_start_a_second_serve(tmp_path: Path) -> None:
    """The one-serve lock is taken on the database's real path: a symlink names the same lock."""
    Store(f"sqlite:///{tmp_path}/state.db").close()
    (tmp_path / "link.db").symlink_to(tmp_path / "state.db")
    with (
        single_sqlite_instance(f"sqlite:///{tmp_path}/state.db"),
        pytest.raises(ConfigError, match="another crmsync serve is running"),
        single_sqlite_instance(f"sqlite:///{tmp_path}/link.db"),
    ):
        pass
    assert not (tmp_path / "link.db.serve.lock").exists()


def serve_refusal(tmp_path: Path, **env: str) -> tuple[int, str]:
    """`crmsync serve` on tmp_path/state.db: its exit code and output (it must refuse before serving)."""
    process = start({"CRMSYNC_DATABASE_URL": f"sqlite:///{tmp_path}/state.db", **env}, free_port())
    output = finish(process, timeout=60)
    return process.returncode, output


def test_serve_refuses_a_read_only_database_in_one_line(tmp_path: Path) -> None:
    """A read-only state database is one clear line and exit 2 (was: ready, and 503 on every webhook)."""
    Store(f"sqlite:///{tmp_path}/state.db").close()
    with immutable(tmp_path / "state.db"):
        code, output = serve_refusal(tmp_path)
    assert code == 2, output
    assert output.strip().splitlines() == [
        f"crmsync: the state database {os.path.realpath(tmp_path)}/state.db is read-only to crmsync; serve must "
        "write it (every event is stored before it is acknowledged): fix the permissions, or set "
        "CRMSYNC_DATABASE_URL to a writable place"
    ]


def test_serve_refuses_an_unwritable_lock_file_in_one_line(tmp_path: Path) -> None:
    """An unwritable `.serve.lock` is one line naming it, exit 2 (was: "unexpected PermissionError … a bug")."""
    Store(f"sqlite:///{tmp_path}/state.db").close()
    lock = tmp_path / "state.db.serve.lock"
    lock.write_text("")
    with immutable(lock):
        code, output = serve_refusal(tmp_path)
    assert code == 2, output
    [line] = output.strip().splitlines()
    assert line.startswith(f"crmsync: cannot open serve's lock file {os.path.realpath(lock)}")
    assert "bug" not in line


def test_serve_refuses_a_short_ops_token_in_one_line(tmp_path: Path) -> None:
    """A CRMSYNC_OPS_TOKEN under 24 characters stops serve at start (exit 2), naming the variable, not the value."""
    code, output = serve_refusal(tmp_path, CRMSYNC_OPS_TOKEN="letmein")
    assert code == 2, output
    [line] = output.strip().splitlines()
    assert line.startswith("crmsync: CRMSYNC_OPS_TOKEN is 7 characters; use at least 24") and "letmein" not in line


def test_a_read_only_postgresql_is_not_ready_and_stores_nothing() -> None:
    """A PostgreSQL database turned read-only (a standby, `default_transaction_read_only`): the readiness
    ping fails and an event is refused (503), never acknowledged."""
    with new_postgres_database("crmsync_ro") as url:
        store = Store(url)
        try:
            intake = IntakeStore(store.engine)
            intake.ping()
            name = url.rsplit("/", 1)[1]
            with store.engine.connect() as conn:
                conn.execute(text(f"alter database {name} set default_transaction_read_only = on"))
                conn.commit()
            store.engine.dispose()  # new sessions take the setting
            with pytest.raises(ServiceUnavailable, match="is read-only"):
                intake.ping()
            with pytest.raises(ServiceUnavailable):
                intake.add_events([NewEvent("hubspot", "deal.creation", "1", "k1")])
        finally:
            store.close()


def test_serve_refuses_a_missing_state_folder_in_one_line(tmp_path: Path) -> None:
    """A state database in a folder that does not exist is one line naming the folder, exit 2."""
    code, output = serve_refusal(tmp_path / "gone")
    assert code == 2, output
    [line] = output.strip().splitlines()
    assert line == (
        f"crmsync: the state database's folder {os.path.realpath(tmp_path)}/gone does not exist; create it, "
        "or set CRMSYNC_DATABASE_URL"
    )
