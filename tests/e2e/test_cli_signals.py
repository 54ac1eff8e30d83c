"""No false "bug" messages: Ctrl-C (also at the apply prompt), a busy port, SIGTERM of the sandbox and
an unsupported database each end in one plain line and a fitting exit code."""

from __future__ import annotations

import os
import pty
import select
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.e2e.conftest import Harness
from tests.e2e.scenarios import invoke

CLI = [sys.executable, "-c", "from crmsync.cli import main; main()"]


def read_until(fd: int, needle: bytes, seen: bytearray, timeout: float = 120.0) -> None:
    """Read from `fd` into `seen` until `needle` appears (fails after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        assert time.monotonic() < deadline, bytes(seen).decode(errors="replace")
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen.extend(chunk)


def on_terminal(env: dict[str, str], args: list[str], interact: Callable[[int, bytearray], None]) -> tuple[int, str]:
    """`crmsync ARGS` on a pseudo-terminal, driven by `interact(fd, seen)`; its exit code and all it printed.
    The child is killed if `interact` fails, so none is left behind."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: crmsync on the pseudo-terminal
        os.execve(CLI[0], [*CLI, *args], env)
    seen = bytearray()
    try:
        interact(fd, seen)
        _, status = os.waitpid(pid, 0)
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(status), bytes(seen).decode(errors="replace")


def test_ctrl_c_at_the_apply_prompt_is_cancelled_with_exit_130(harness: Harness) -> None:
    """On a real terminal, Ctrl-C at `Apply …? [y/N]` prints "cancelled", exits 130 and writes nothing."""
    env = {**os.environ, **harness.env(), "COLUMNS": "120", "NO_COLOR": "1"}

    def ctrl_c_at_the_prompt(fd: int, seen: bytearray) -> None:
        # The prompt's last space is written by input() itself, just before it reads. A SIGINT that
        # lands inside input()'s C code before its read() is only seen at the next key (CPython checks
        # signals on EINTR), so wait as a person would, after the whole prompt is shown.
        read_until(fd, b"[y/N]: ", seen)
        time.sleep(0.3)
        os.write(fd, b"\x03")  # Ctrl-C: the terminal sends SIGINT
        read_until(fd, b"cancelled", seen, timeout=60)

    code, text = on_terminal(env, ["apply"], ctrl_c_at_the_prompt)
    assert code == 130, text
    assert "bug" not in text and "Abort" not in text
    assert harness.sb.schematic.write_count == 0


def test_sandbox_on_a_port_in_use_is_one_line_naming_the_port(harness: Harness) -> None:
    """`crmsync sandbox` on a taken port: exit 1, one line that names the port, no "bug" message."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke(harness, "sandbox", "--hubspot-port", "0", "--schematic-port", str(port), "--control-port", "0")
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1, result.output
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "bug" not in lines[0]


def test_sigterm_stops_the_sandbox_and_removes_its_tls_folder() -> None:
    """`kill -TERM` of `crmsync sandbox` ends it cleanly (exit 0) and removes its temp folders; its exports
    are shell-quoted, name a state database of its own, and leave CRMSYNC_MAPPINGS alone."""
    ports = ["--hubspot-port", "0", "--schematic-port", "0", "--salesforce-port", "0", "--control-port", "0"]
    with subprocess.Popen([*CLI, "sandbox", *ports], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        bundle = None
        exported = []
        for line in proc.stdout:
            exported.append(line)
            if line.startswith("export SALESFORCE_CA_BUNDLE="):
                bundle = Path(shlex.split(line)[1].split("=", 1)[1])
            if line.startswith("crmsync plan --mappings"):  # the last line it prints
                break
        assert bundle is not None and bundle.exists()
        assert not any(line.startswith("export CRMSYNC_MAPPINGS") for line in exported)  # ./mappings stay in force
        values = dict(shlex.split(line)[1].split("=", 1) for line in exported if line.startswith("export "))
        for line in (line for line in exported if line.startswith("export ")):  # what bash would get, unchanged
            name, raw = line.strip().removeprefix("export ").split("=", 1)
            assert raw == shlex.quote(values[name]), line
        token = values["SALESFORCE_ACCESS_TOKEN"]
        assert "!" in token and f"={token}" not in "".join(exported)  # quoted: history expansion leaves it be
        database = Path(values["CRMSYNC_DATABASE_URL"].removeprefix("sqlite:///"))
        assert database.parent.name.startswith("crmsync-sandbox-") and database.parent.is_dir()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    assert not bundle.parent.exists()
    assert not database.parent.exists()


def test_a_mysql_url_says_it_is_not_supported(harness: Harness) -> None:
    """A MySQL state database: one line saying which backends crmsync supports, not a ModuleNotFoundError."""
    result = invoke(harness, "status", env={"CRMSYNC_DATABASE_URL": "mysql://u@localhost/crm"})
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1
    assert "mysql is not a supported state database" in lines[0] and "postgresql://" in lines[0]
    assert "ModuleNotFoundError" not in lines[0]


def test_ctrl_c_stops_the_console_cleanly_with_exit_0(tmp_path: Path) -> None:
    """`crmsync ui` stops on SIGINT (Ctrl-C) as `serve` does: exit 0, no "cancelled", no traceback."""
    from crmsync.cli.demo import sample_mappings

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "CRMSYNC_DATABASE_URL": f"sqlite:///{tmp_path}/state.db",
           "CRMSYNC_MAPPINGS": str(sample_mappings()), "NO_COLOR": "1"}  # fmt: skip
    args = ["ui", "--port", str(port)]
    with subprocess.Popen([*CLI, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # printed once the console is built, just before uvicorn starts
        assert "crmsync console at" in first, first
        deadline = time.monotonic() + 60
        while True:  # wait until it listens: a SIGINT before uvicorn's handlers would be a plain Ctrl-C
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "the console never listened"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        rest = proc.stdout.read()
        code = proc.wait(timeout=30)
    assert code == 0, first + rest
    assert "cancelled" not in rest and "Traceback" not in rest
