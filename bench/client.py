"""The measured client of bench/memory.py: one full reconcile (apply mode) in a process that imports
crmsync and nothing of the benchmark, the sandbox or the test suite, as a user's `crmsync apply` would.

Run by bench.memory and bench.rates as `python -m bench.client`, `{"env": …, "paced": bool}` as JSON
on stdin (paced: the rates of the config file in `env`; else no client-side pacing); prints its
figures as one JSON object: `baseline_rss_mb` (after imports and loading the mappings, before anything
is read), `peak_rss_mb` (at the end), `client_cpu_s` and `wall_s` of the reconcile. Both RSS figures
are the kernel's high-water mark of this process's own memory (`VmHWM`): `ru_maxrss` is not, since
Linux carries it over an exec from the forked parent (the benchmark, with the sandbox imported).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def high_water_mib() -> float:
    """This process's peak resident memory so far, MiB (`VmHWM` of /proc/self/status, Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def main() -> None:
    asked: dict[str, Any] = json.loads(sys.stdin.read())
    env: dict[str, str] = asked["env"]
    from crmsync.app import open_context
    from crmsync.domain import Trigger
    from crmsync.mapping.loader import load_mappings
    from crmsync.service.reconcile import Mode, Request, reconcile
    from crmsync.settings import load_settings

    settings = load_settings(env) if asked.get("paced") else load_settings(env).unpaced()
    maps = load_mappings(settings.mappings)
    baseline = high_water_mib()
    wall, cpu = time.perf_counter(), time.process_time()
    with open_context(settings, maps) as ctx:
        outcome = reconcile(ctx, maps, Request(Trigger.MANUAL, Mode.APPLY))
    figures = {
        "client_cpu_s": round(time.process_time() - cpu, 2),
        "wall_s": round(time.perf_counter() - wall, 2),
        "baseline_rss_mb": round(baseline, 1),
        "peak_rss_mb": round(high_water_mib(), 1),
        "status": outcome.status.value,
        "changes": len(outcome.run.plan.changes) if outcome.run else None,
        "failed": len(outcome.report.failed) if outcome.report else 0,
        "modules": sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in WATCHED}),
        "load_average": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(figures))


# Packages a plan does not use: listed in the figures when they were imported anyway
WATCHED = frozenset({"rich", "structlog", "starlette", "uvicorn", "jinja2", "tests"})

if __name__ == "__main__":
    main()
