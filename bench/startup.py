"""Start-up time of `crmsync --help`, `crmsync --version` and `crmsync validate --offline`.

A benchmark, not a test: run `python3 -m uv run python bench/startup.py` and read the numbers.
Each command runs in a fresh interpreter (as a user runs it); the best and median wall time of N
runs are printed, so another busy process on the machine inflates the median more than the best,
and the best CPU time (user + system of the child), which a busy machine inflates less than wall
time. The goal is under 0.5 s of wall time for each (issue 11).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = int(os.environ.get("BENCH_RUNS", "7"))
ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "--help": ["--help"],
    "--version": ["--version"],
    "validate --offline": ["validate", "--offline", "--mappings", str(ROOT / "src/crmsync/sandbox/mappings")],
}


def timed(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one `crmsync ARGS` in a fresh interpreter (output discarded)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "from crmsync.cli import main; main()", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    """Print best and median wall time, and best CPU time, per command."""
    print(f"python {sys.version.split()[0]}, {RUNS} runs each, load average {os.getloadavg()[0]:.2f}")
    for name, args in COMMANDS.items():
        runs = [timed(args) for _ in range(RUNS)]
        walls = sorted(wall for wall, _ in runs)
        cpu = min(cpu for _, cpu in runs)
        print(
            f"crmsync {name:<20} best {walls[0]:.3f} s   median {statistics.median(walls):.3f} s   best CPU {cpu:.3f} s"
        )


if __name__ == "__main__":
    main()
