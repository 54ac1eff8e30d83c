"""Benchmark suite: crmsync measured on its own, the emulators in another process.

Run (not part of the test suite; takes a few minutes at the default size):
    python3 -m uv run python -m bench.run [--deals 50000] [--companies 2000]

Prints a table and writes `bench/results.json` (machine, date, sizes, each figure). The sandbox
is seeded and served by a child process, so the client CPU (`time.process_time`) and peak RSS
(`ru_maxrss`) are crmsync's alone. Calls are counted per endpoint by the emulators; the read
lower bound is, per endpoint read, the fewest pages its collection needs (at least one).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import re
import resource
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

from tests.benchmarks.reconcile import MAPPING, data

from crmsync.app import open_context
from crmsync.connectors.base import DealQuery
from crmsync.connectors.hubspot import ASSOCIATION_BATCH, PAGE, HubSpotConnector, HubSpotSettings
from crmsync.domain import Trigger
from crmsync.mapping.loader import load_mappings
from crmsync.mapping.rules import DealFilter
from crmsync.service.reconcile import Mode, Outcome, Request, reconcile
from crmsync.settings import load_settings

T = TypeVar("T")
RESULTS = Path(__file__).with_name("results.json")
SCHEMATIC_PAGE = 250
_ID = re.compile(r"/(comp|cmov|feat)_[A-Za-z0-9]+|/\d+(?=/|$)")


def _sandbox(deals: int, companies: int, conn: Connection) -> None:
    """The child: seed and serve the sandbox, answer `counts` with calls per endpoint, stop on `stop`."""
    from crmsync.sandbox import Sandbox

    with Sandbox(data(deals, companies)) as sb:
        conn.send({"env": sb.env(), "hubspot_url": sb.hubspot_url, "token": sb.hubspot.access_token})
        while True:
            command = conn.recv()
            if command == "stop":
                return
            calls: Counter[str] = Counter()
            for name, state in (("hubspot", sb.hubspot), ("schematic", sb.schematic)):
                with state.lock:
                    calls.update(f"{name} {r.method} {_ID.sub('/{id}', r.path)}" for r in state.requests)
            conn.send({"calls": dict(calls), "overrides": len(sb.schematic.overrides)})


def measure(action: Callable[[], T]) -> tuple[T, dict[str, float]]:
    """Run once: the result, wall and client CPU seconds, client peak RSS so far (MiB)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    figures = {"wall_s": round(time.perf_counter() - wall, 2), "client_cpu_s": round(time.process_time() - cpu, 2),
               "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    return result, figures


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Calls per endpoint made between two counts."""
    return {k: n - before.get(k, 0) for k, n in sorted(after.items()) if n - before.get(k, 0)}


def lower_bound(calls: dict[str, int], deals: int, companies: int, overrides: int) -> int:
    """The fewest reads that return the same data: per endpoint read, the pages its collection needs."""
    sizes = {"hubspot POST /crm/v3/objects/deals/search": math.ceil(deals / PAGE),
             "hubspot POST /crm/v4/associations/deals/companies/batch/read": math.ceil(deals / ASSOCIATION_BATCH),
             "schematic GET /companies": math.ceil(companies / SCHEMATIC_PAGE),
             "schematic GET /company-overrides": math.ceil(overrides / SCHEMATIC_PAGE) or 1}
    return sum(sizes.get(k, 1) for k, n in calls.items() if " GET " in k or k.endswith(("/search", "/read")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=50_000)
    parser.add_argument("--companies", type=int, default=2_000)
    args = parser.parse_args()
    ctx_mp = multiprocessing.get_context("spawn")
    parent, child = ctx_mp.Pipe()
    proc = ctx_mp.Process(target=_sandbox, args=(args.deals, args.companies, child), daemon=True)
    proc.start()
    info = parent.recv()

    def counts() -> dict[str, Any]:
        parent.send("counts")
        answer: dict[str, Any] = parent.recv()
        return answer

    rows: list[tuple[str, dict[str, Any]]] = []
    results: dict[str, Any] = {}
    try:
        connector = HubSpotConnector(HubSpotSettings(info["hubspot_url"], info["token"], searches_per_second=0))
        query = DealQuery((DealFilter(stages=("closedwon",)),), ("seats_purchased", "sso_addon", "api_call_limit"))
        read, figures = measure(lambda: connector.read_deals(query))
        rows.append(("HubSpot read", {**figures, "calls": read.requests}))
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "maps").mkdir()
            (Path(tmp) / "maps" / "hubspot.yaml").write_text(MAPPING)
            env = {**info["env"], "CRMSYNC_DATABASE_URL": f"sqlite:///{tmp}/state.db",
                   "CRMSYNC_MAPPINGS": f"{tmp}/maps"}
            settings = load_settings(env).unpaced()
            maps = load_mappings(settings.mappings)
            with open_context(settings, maps) as ctx:
                for label in ("cold reconcile (apply)", "no-op reconcile (apply)"):
                    before = counts()
                    request = Request(Trigger.MANUAL, Mode.APPLY)

                    def run(request: Request = request) -> Outcome:
                        return reconcile(ctx, maps, request)

                    outcome, figures = measure(run)
                    after = counts()
                    calls = delta(before["calls"], after["calls"])
                    writes = sum(n for k, n in calls.items() if k.startswith("schematic") and " GET " not in k)
                    reads = sum(calls.values()) - writes
                    bound = lower_bound(calls, args.deals, args.companies, before["overrides"])
                    failed = len(outcome.report.failed) if outcome.report else 0
                    rows.append((label, {**figures, "reads": reads, "read_lower_bound": bound,
                                         "read_ratio": round(reads / bound, 3), "writes": writes, "failed": failed,
                                         "calls": calls}))
                    results[label] = rows[-1][1]
    finally:
        parent.send("stop")
        proc.join(timeout=30)
    noop = results["no-op reconcile (apply)"]
    results = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python3 -m uv run python -m bench.run " + f"--deals {args.deals} --companies {args.companies}",
        "sizes": {"deals": args.deals, "companies": args.companies},
        "noop_reconcile": {k: noop[k] for k in ("writes", "reads", "read_lower_bound")},
        f"client_cpu_s_noop_{args.deals // 1000}k": noop["client_cpu_s"],
        "peak_rss_mb": {f"client_{args.deals // 1000}k": noop["peak_rss_mb"]},
        "runs": dict(rows),
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'run':<26}{'wall s':>8}{'cpu s':>8}{'RSS MiB':>9}{'reads':>7}{'bound':>7}{'writes':>8}")
    for label, r in rows:
        print(f"{label:<26}{r['wall_s']:>8}{r['client_cpu_s']:>8}{r['peak_rss_mb']:>9}"
              f"{r.get('reads', r.get('calls', '')):>7}{r.get('read_lower_bound', ''):>7}{r.get('writes', ''):>8}")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
