"""crmsync's peak memory for one no-op full reconcile, measured in a fresh process of its own.

Run (not part of the test suite; a few minutes at 100k deals):
    python3 -m uv run python -m bench.memory --deals 50000 --companies 2000

The sandbox is seeded and served by one spawned child. A first client process applies once
(the cold reconcile creates every override); then a FRESH spawned client process runs the
measured one: a full reconcile in apply mode whose plan is empty (no-op state). Its figures are
that process's alone: `baseline_rss_mb` after imports and loading the mappings, before anything
is read; `peak_rss_mb` its `ru_maxrss` at the end (Linux: KiB); `client_cpu_s` and `wall_s`
of the reconcile itself.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.child import client_env, serve

PATIENT = "[hubspot]\ndeadline = 300.0\n\n[schematic]\ntimeout = 120.0\ndeadline = 300.0\n"


def _client(env: dict[str, str], conn: Connection) -> None:
    """One client process: one full reconcile (apply), with its own figures."""
    from crmsync.app import open_context
    from crmsync.domain import Trigger
    from crmsync.mapping.loader import load_mappings
    from crmsync.service.reconcile import Mode, Request, reconcile
    from crmsync.settings import load_settings

    settings = load_settings(env).unpaced()
    maps = load_mappings(settings.mappings)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    wall, cpu = time.perf_counter(), time.process_time()
    with open_context(settings, maps) as ctx:
        outcome = reconcile(ctx, maps, Request(Trigger.MANUAL, Mode.APPLY))
    figures = {
        "client_cpu_s": round(time.process_time() - cpu, 2),
        "wall_s": round(time.perf_counter() - wall, 2),
        "baseline_rss_mb": round(baseline, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "status": outcome.status.value,
        "changes": len(outcome.run.plan.changes) if outcome.run else None,
        "failed": len(outcome.report.failed) if outcome.report else 0,
    }
    conn.send(figures)


def _spawned_client(env: dict[str, str]) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_client, args=(env, child))
    proc.start()
    try:
        figures: dict[str, Any] = parent.recv()
    finally:
        proc.join(timeout=60)
    if proc.exitcode != 0:
        raise RuntimeError(f"client process exited with {proc.exitcode}")
    return figures


def measure_rss(deals: int, companies: int) -> dict[str, Any]:
    """Peak RSS (MiB) of a fresh crmsync process doing one no-op full reconcile (apply mode) of
    `deals` won HubSpot deals over `companies` companies, the sandbox in another process."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    sandbox = ctx.Process(target=serve, args=(deals, companies, child), daemon=True)
    sandbox.start()
    try:
        sandbox_env: dict[str, str] = parent.recv()["env"]
        with tempfile.TemporaryDirectory() as tmp:
            # The emulator at 100k deals on a shared machine can answer slower than a real CRM: generous
            # deadlines, so a slow answer is waited for (memory is measured, not the emulator's speed).
            (Path(tmp) / "crmsync.toml").write_text(PATIENT)
            env = {**client_env(sandbox_env, tmp), "CRMSYNC_CONFIG": f"{tmp}/crmsync.toml"}
            cold = _spawned_client(env)  # creates every override: the state the measured run finds
            if cold["failed"] or cold["status"] != "ok":
                raise RuntimeError(f"the cold apply did not succeed: {cold}")
            noop = _spawned_client(env)
    finally:
        parent.send("stop")
        sandbox.join(timeout=30)
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
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=50_000)
    parser.add_argument("--companies", type=int, default=2_000)
    args = parser.parse_args()
    print(json.dumps(measure_rss(args.deals, args.companies), indent=2))


if __name__ == "__main__":
    main()
