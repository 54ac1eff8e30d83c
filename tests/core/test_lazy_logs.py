"""structlog (and the rich tracebacks it pulls in) is loaded only for an event that will be written:
a plan at the default level must not carry it in memory. Checked in a fresh interpreter, since the
test process has loaded structlog long before."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
import logging, sys
from crmsync.logs import get_logger
log = get_logger("crmsync.run")
log.info("run.started", command="plan")
log.debug("rate.wait", wait_s=0.1)
print("after info:", "structlog" in sys.modules)
log.warning("api.retry", service="schematic")
print("after warning:", "structlog" in sys.modules)
"""


def run(program: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True)


def test_events_below_the_level_do_not_load_structlog_and_a_kept_event_is_written() -> None:
    """At the default WARNING level, info and debug events leave structlog unloaded; a warning loads it
    and reaches stderr as before."""
    done = run(PROGRAM)
    assert "after info: False" in done.stdout
    assert "after warning: True" in done.stdout
    assert "api.retry" in done.stderr and "schematic" in done.stderr and "run.started" not in done.stderr


def test_an_info_event_is_written_when_the_level_lets_it_through() -> None:
    """With the level at INFO the same info event goes through structlog to stderr."""
    done = run("import logging; logging.basicConfig(level=logging.INFO)\n" + PROGRAM)
    assert "after info: True" in done.stdout
    assert "run.started" in done.stderr
