"""`crmsync serve` as a process: serves, follows a pushed deal close, refuses a second SQLite instance,
and shuts down cleanly on SIGTERM (the lifespan's cleanup runs)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from crmsync.cli.demo import sample_mappings
from crmsync.sandbox import Sandbox
from crmsync.store.repository import Store
from tests.e2e.conftest import crmsync_env

OPS = "ops-token-for-tests-0123456789"
ENTRY = "from crmsync.cli import main; main()"
LOGS: dict[int, Any] = {}  # pid → the temporary file a started serve writes to


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(env: dict[str, str], port: int, *extra: str) -> subprocess.Popen[str]:
    """`crmsync serve` in its own process; its output goes to a temporary file, never a pipe (a pipe
    nobody reads while serve runs fills up and blocks its logging, and with it serve)."""
    command = [sys.executable, "-c", ENTRY, "serve", "--port", str(port), "--poll-interval", "3600", *extra]
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - outlives this call: finish() closes it
    process = subprocess.Popen(command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, text=True)
    LOGS[process.pid] = log
    return process


def finish(process: subprocess.Popen[str], timeout: float = 60) -> str:
    """Wait for a serve process to end; everything it printed."""
    process.wait(timeout=timeout)
    log = LOGS.pop(process.pid)
    log.seek(0)
    text = log.read()
    log.close()
    return text


def stop(process: subprocess.Popen[str]) -> str:
    """SIGTERM a serve process; everything it printed."""
    process.send_signal(signal.SIGTERM)
    return finish(process)


def wait_for(check: object, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if check():  # type: ignore[operator]
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_serve_follows_a_deal_close_and_stops_cleanly_on_sigterm(sandbox: Sandbox, tmp_path: Path) -> None:
    """A running serve syncs at start, follows a pushed deal close, and on SIGTERM finishes and cleans up."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = crmsync_env(sandbox, f"sqlite:///{tmp_path}/state.db", sample_mappings())
    env |= sandbox.subscribe(url) | {"CRMSYNC_OPS_TOKEN": OPS}
    process = start(env, port)
    try:
        wait_for(lambda: httpx.get(f"{url}/healthz").status_code == 200)
        wait_for(lambda: httpx.get(f"{url}/readyz").status_code == 200)  # the start-up poll reconciled
        wait_for(lambda: any(o["company_id"] == "comp_hooli" for o in sandbox.schematic.overrides.values()))
        sandbox.hubspot.update_deal("1023", dealstage="closedwon", seats_purchased="300")
        wait_for(lambda: any(o["company_id"] == "comp_hooli" and o["value_numeric"] == 300
                             for o in sandbox.schematic.overrides.values()))  # fmt: skip
        assert "crmsync_intake_pending" in httpx.get(f"{url}/metrics").text
        second = start(env, free_port())
        second_err = finish(second)
        assert second.returncode == 2
        assert "another crmsync serve is running" in second_err
    finally:
        err = stop(process)
    assert process.returncode == 0  # stopped cleanly: 0, not 143 (uvicorn re-raises the signal otherwise)
    assert "serve.stopped" in err
    assert "Traceback" not in err
    assert "run.finished" in err and "deals read" not in err and "Writes applied" not in err  # logs, not progress


def test_serve_refuses_both_resync_flags(tmp_path: Path) -> None:
    """--resync-interval and --resync-cron together are a one-line configuration error (exit 2)."""
    process = start({"CRMSYNC_DATABASE_URL": f"sqlite:///{tmp_path}/s.db"}, free_port(),
                    "--resync-interval", "60", "--resync-cron", "0 * * * *")  # fmt: skip
    err = finish(process)
    assert process.returncode == 2
    assert err.strip() == "crmsync: give --resync-interval or --resync-cron, not both"


@pytest.mark.slow
def test_a_webhook_answered_just_before_a_sigkill_is_processed_after_restart(sandbox: Sandbox, tmp_path: Path) -> None:
    """The hint is committed before the 200: a serve killed right after answering (Schematic unreachable, so
    nothing was processed) leaves it in the database, and the next serve reconciles it (after the lease)."""
    from tests.serve.signing import hubspot_headers

    database = f"sqlite:///{tmp_path}/state.db"
    env = crmsync_env(sandbox, database, sample_mappings()) | {"HUBSPOT_CLIENT_SECRET": "s3cret"}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = start(env | {"SCHEMATIC_API_URL": "http://127.0.0.1:9"}, port)  # nothing can be applied
    try:
        wait_for(lambda: httpx.get(f"{url}/healthz").status_code == 200)
        sandbox.hubspot.update_deal("1023", dealstage="closedwon", seats_purchased="300")
        body = b'[{"eventId": 1, "subscriptionId": 1, "portalId": 62515, "occurredAt": 1, "objectId": 1023, '
        body += b'"subscriptionType": "deal.propertyChange", "propertyName": "dealstage"}]'
        headers = hubspot_headers("s3cret", f"{url}/webhooks/hubspot", body)
        assert httpx.post(f"{url}/webhooks/hubspot", content=body, headers=headers).status_code == 200
    finally:
        first.kill()
        finish(first, timeout=30)
    assert not any(o["company_id"] == "comp_hooli" for o in sandbox.schematic.overrides.values())
    second = start(env, port)
    try:
        store = Store(database)
        try:  # the start-up poll may fix the override first; the hint's own run shows it was not lost
            wait_for(lambda: any(run.trigger == "webhook:hubspot" and run.status == "ok" for run in store.runs(50)),
                     timeout=90)  # fmt: skip
        finally:
            store.close()
        assert any(o["company_id"] == "comp_hooli" and o["value_numeric"] == 300
                   for o in sandbox.schematic.overrides.values())  # fmt: skip
    finally:
        stop(second)


def test_ctrl_c_stops_serve_cleanly_with_exit_0(sandbox: Sandbox, tmp_path: Path) -> None:
    """SIGINT (Ctrl-C) as documented: the lifespan's cleanup runs and the exit code is 0, not 130."""
    port = free_port()
    env = crmsync_env(sandbox, f"sqlite:///{tmp_path}/state.db", sample_mappings())
    process = start(env, port)
    try:
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200)
    finally:
        process.send_signal(signal.SIGINT)
        output = finish(process)
    assert process.returncode == 0, output
    assert "serve.stopped" in output and "Traceback" not in output
