"""Start-up time of `crmsync --help`, `crmsync --version` and `crmsync validate --offline`.

A benchmark, not a test: run `python3 -m uv run python bench/startup.py` and read the numbers.
Each command runs in a fresh interpreter (as a user runs it); the best and median of N runs are
printed, so another busy process on the machine inflates the median more than the best.
"""

from __future__ import annotations

import os
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


def timed(args: list[str]) -> float:
    """Seconds for one `python -m crmsync.cli ARGS` in a fresh interpreter (output discarded)."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "from crmsync.cli import main; main()", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return time.perf_counter() - start


def main() -> None:
    """Print best and median start-up time per command."""
    print(f"python {sys.version.split()[0]}, {RUNS} runs each")
    for name, args in COMMANDS.items():
        times = sorted(timed(args) for _ in range(RUNS))
        print(f"crmsync {name:<20} best {times[0]:.3f} s   median {statistics.median(times):.3f} s")


if __name__ == "__main__":
    main()
