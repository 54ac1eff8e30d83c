"""The last step of `crmsync demo`: `crmsync serve` running against the sandbox, which pushes signed
webhooks like HubSpot does; a deal closes in the HubSpot emulator and the demo measures how long its
override takes to appear in Schematic, with nobody running a command.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import IO

from rich.console import Console

from crmsync.sandbox import Sandbox
from crmsync.settings import process_environment

DEAL, COMPANY, SEATS = "1023", "comp_hooli", 300  # a sample deal that is not won yet, and what it will grant
ENTRY = "from crmsync.cli import main; main()"


def show_serve(console: Console, sb: Sandbox, env: Mapping[str, str], as_of: datetime) -> bool:
    """Start serve, close a deal, report the delay until its override is visible; True when it appeared."""
    with tempfile.TemporaryFile(mode="w+") as log:  # a file, not a pipe: nobody reads it while serve runs
        seen, delay = _follow(console, sb, env, as_of, log)
        log.seek(0)
        err = log.read()
    if seen is None:
        return False
    if not seen:
        console.print(f"Deal {DEAL} closed, but its override did not appear within 20 s.", markup=False)
        console.print(err.strip()[-2000:], markup=False)
        return False
    console.print(
        f"Deal {DEAL} (Hooli) closed won in HubSpot → its override (seats {SEATS}) is in Schematic "
        f"{delay:.2f} s later: signed webhook → durable intake → one reconcile of that company.",
        markup=False,
    )
    return True


def _follow(
    console: Console, sb: Sandbox, env: Mapping[str, str], as_of: datetime, log: IO[str]
) -> tuple[bool | None, float]:
    """Run serve (output to `log`), close the deal; (seen, delay), seen None when serve never got ready."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    serve_env = {**process_environment(), **env, **sb.subscribe(url), "CRMSYNC_NOW": as_of.isoformat(),
                 "CRMSYNC_LOG_LEVEL": "warning"}  # fmt: skip
    command = [sys.executable, "-c", ENTRY, "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=serve_env, stdout=subprocess.DEVNULL, stderr=log, text=True)
    try:
        if not _wait(lambda: _ready(f"{url}/readyz"), 30):
            console.print("crmsync serve did not become ready within 30 s.")
            return None, 0.0
        console.print(f"crmsync serve listens at {url}; the sandbox's HubSpot, Salesforce and Schematic push to it.")
        started = time.monotonic()
        sb.hubspot.update_deal(DEAL, dealstage="closedwon", seats_purchased=str(SEATS))
        return _wait(lambda: _seats(sb) == SEATS, 20), time.monotonic() - started
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        sb.webhooks.stop()


def _seats(sb: Sandbox) -> object:
    found = [o["value_numeric"] for o in sb.schematic.overrides_for(COMPANY, "feat_seats")]
    return found[0] if len(found) == 1 else None


def _wait(check: Callable[[], bool], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.02)
    return False


def _ready(url: str) -> bool:
    """Whether our own serve answers its readiness probe (a local check, not an outside API)."""
    try:
        with urllib.request.urlopen(url, timeout=1) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
