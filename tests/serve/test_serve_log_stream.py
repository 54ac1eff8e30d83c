"""`crmsync --log-format json serve` writes one stream: nothing on stdout, and every stderr line one
JSON object (uvicorn's start-up and access lines, alembic, the libraries and crmsync's own events)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from crmsync.cli.demo import sample_mappings
from crmsync.sandbox import Sandbox
from tests.e2e.conftest import crmsync_env
from tests.serve.test_serve_command import ENTRY, free_port, wait_for


def run_json_serve(sandbox: Sandbox, tmp_path: Path, level: str) -> tuple[str, list[dict[str, Any]], str]:
    """Run serve in JSON mode, hit /readyz, close a deal (a pushed webhook), SIGTERM it: (stdout,
    stderr's lines parsed, raw stderr)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = crmsync_env(sandbox, f"sqlite:///{tmp_path}/state.db", sample_mappings()) | sandbox.subscribe(url)
    env |= {"CRMSYNC_LOG_FORMAT": "json", "CRMSYNC_LOG_LEVEL": level}
    command = [sys.executable, "-c", ENTRY, "serve", "--port", str(port), "--poll-interval", "3600"]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, env={**os.environ, **env}, stdout=out, stderr=err, text=True)
        try:
            wait_for(lambda: httpx.get(f"{url}/readyz").status_code == 200)
            sandbox.hubspot.update_deal("1023", dealstage="closedwon", seats_purchased="300")
            wait_for(lambda: any(o["company_id"] == "comp_hooli" and o["value_numeric"] == 300
                                 for o in sandbox.schematic.overrides.values()))  # fmt: skip
            assert httpx.get(f"{url}/nowhere").status_code == 404
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    lines = []
    for line in stderr.splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise AssertionError(f"not a JSON line on stderr: {line!r}") from exc
    return stdout, lines, stderr


def test_json_serve_is_one_stream_of_json_lines(sandbox: Sandbox, tmp_path: Path) -> None:
    """At debug level stdout stays empty and every stderr line, from every logger, is a JSON object."""
    stdout, lines, raw = run_json_serve(sandbox, tmp_path, "debug")
    assert stdout == ""
    assert all(isinstance(line, dict) and "event" in line and "level" in line for line in lines)
    loggers = {line.get("logger") for line in lines}
    assert "uvicorn.error" in loggers  # uvicorn's own lines went through the formatter
    assert not [line for line in lines if "color_message" in line] and "\\u001b" not in raw  # no colour codes
    requests = [line for line in lines if line["event"] == "http.request"]
    assert any(r["path"] == "/readyz" and r["level"] == "debug" for r in requests)  # probes are quiet
    assert any(r["path"] == "/webhooks/hubspot" and r["method"] == "POST" for r in requests)
    assert any(r["path"] == "/nowhere" and r["status"] == 404 and r["level"] == "info" for r in requests)
    assert any(line["event"] == "serve.stopped" for line in lines)


def test_json_serve_at_info_has_no_probe_lines_and_no_migration_chatter(sandbox: Sandbox, tmp_path: Path) -> None:
    """At info level the /readyz probes and alembic's start-up lines are not logged; the access log of
    a 2xx webhook is not either, a 404 is."""
    stdout, lines, _raw = run_json_serve(sandbox, tmp_path, "info")
    assert stdout == ""
    assert not [line for line in lines if str(line.get("logger", "")).startswith("alembic")]
    requests = [line for line in lines if line["event"] == "http.request"]
    assert [(r["path"], r["status"]) for r in requests] == [("/nowhere", 404)]
