"""crmsync's peak memory for one no-op full reconcile, measured in a fresh process of its own.

Run (not part of the test suite; a few minutes at 100k deals):
    python3 -m uv run python -m bench.memory --deals 50000 --companies 2000

The sandbox is seeded and served by one spawned child. A first client process (bench/client.py, a
plain subprocess importing crmsync alone) applies once (the cold reconcile creates every override);
then a FRESH client process runs the measured one: a full reconcile in apply mode whose plan is
empty (no-op state). Its figures are that process's alone: `baseline_rss_mb` after imports and
loading the mappings, before anything is read; `peak_rss_mb` its `ru_maxrss` at the end (Linux:
KiB); `client_cpu_s` and `wall_s` of the reconcile itself.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.child import patient_sandbox

ROOT = Path(__file__).resolve().parent.parent


def spawned_client(env: dict[str, str], *, paced: bool = False) -> dict[str, Any]:
    """bench/client.py in a new interpreter: it imports crmsync alone (a spawned multiprocessing child
    would import this benchmark's parent module, with the sandbox, as its `__main__`)."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.client"],
        input=json.dumps({"env": env, "paced": paced}),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"client process exited with {done.returncode}: {done.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def measure_rss(deals: int, companies: int) -> dict[str, Any]:
    """Peak RSS (MiB) of a fresh crmsync process doing one no-op full reconcile (apply mode) of
    `deals` won HubSpot deals over `companies` companies, the sandbox in another process."""
    with patient_sandbox(deals, companies) as (_, env):
        cold = spawned_client(env)  # creates every override: the state the measured run finds
        if cold["failed"] or cold["status"] != "ok":
            raise RuntimeError(f"the cold apply did not succeed: {cold}")
        noop = spawned_client(env)
    if noop["changes"] != 0:
        raise RuntimeError(f"the measured reconcile was not a no-op: {noop}")
    return {
        "deals": deals,
        "companies": companies,
        "run": "no-op full reconcile (apply mode, 0 changes), fresh process",
        "peak_rss_mb": noop["peak_rss_mb"],
        "baseline_rss_mb": noop["baseline_rss_mb"],
        "client_cpu_s": noop["client_cpu_s"],
        "wall_s": noop["wall_s"],
        "cold_apply": {k: cold[k] for k in ("peak_rss_mb", "client_cpu_s", "wall_s", "changes")},
        "imported_unused": noop["modules"],  # packages of WATCHED (bench/client.py) the measured client imported
        "load_average": noop["load_average"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=50_000)
    parser.add_argument("--companies", type=int, default=2_000)
    args = parser.parse_args()
    print(json.dumps(measure_rss(args.deals, args.companies), indent=2))


if __name__ == "__main__":
    main()
