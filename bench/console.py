"""Page-render time of the console with 10,000 companies and 30,000 owned overrides in the state
database (issue 21: ≤ 200 ms at p95). A benchmark, not a test: run

    python3 -m uv run python bench/console.py [--companies 10000] [--overrides 30000] [--requests 40]

It seeds a fresh SQLite state database (companies as the runs keep them, ledger rows, 1,000 runs with
their details), serves the console with uvicorn on loopback (the loopback mode, no login), and
requests each page over real sockets with httpx: one warm-up, then N timed requests; it prints the
p50 and p95 per page. The company page is left out: it is `explain`, read live from Schematic and
the CRMs (timed by the reconcile benchmarks), not from the state database.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import insert

from crmsync.app import build_console
from crmsync.sandbox.serve import serve_app
from crmsync.service.console_reads import open_console_data
from crmsync.settings import load_settings
from crmsync.store.tables import OwnedOverride, RunRecord
from crmsync.web.console.build import standalone

FEATURES = ("feat_seats", "feat_sso", "feat_api_calls", "feat_exports", "feat_audit")


def seed(url: str, companies: int, overrides: int, runs: int) -> None:
    """Companies, ledger rows spread over them, and runs whose newest has open problems."""
    data = open_console_data(url)
    store = data.store
    store.save_companies([(f"comp_{i:05}", f"Company {i:05}", {"hubspot_company_id": str(100000 + i)})
                          for i in range(companies)], every=True)  # fmt: skip
    now = datetime.now(UTC)
    value = json.dumps({"value_type": "numeric", "value_numeric": 50, "expiration_date": "2027-12-31T23:59:59Z"})
    rows = [
        {"token": f"t{i}", "override_id": f"cmov_{i:06}", "company_id": f"comp_{i % companies:05}",
         "feature_id": FEATURES[i // companies % len(FEATURES)] + (f"_{i // (companies * len(FEATURES))}"
                                                                   if i >= companies * len(FEATURES) else ""),
         "sources": "hubspot", "value_json": value, "pending_json": None, "note": "", "status": "active",
         "created_at": now, "updated_at": now}
        for i in range(overrides)
    ]  # fmt: skip
    details = {
        "conflicts": [{"company_id": f"comp_{i:05}", "company": f"Company {i:05}", "feature_id": "feat_seats",
                       "feature": "Seats", "override_id": f"cmov_x{i}", "live": "10", "desired": "50"}
                      for i in range(50)],
        "pending": [{"company_key": f"hubspot_company_id={900000 + i}", "deals": [f"hubspot {i}"]} for i in range(50)],
        "drift": [], "warnings": [], "deals": {"hubspot": 50000}, "names": {},
    }  # fmt: skip
    summary = json.dumps({"create": 3, "update": 2, "delete": 0, "conflicts": 50, "pending": 50, "errors": 0,
                          "drift": 0, "details": details})  # fmt: skip
    run = {"trigger": "poll", "started_at": now, "finished_at": now, "status": "ok", "actor": "serve",
           "summary_json": summary, "errors_json": "[]"}  # fmt: skip
    history = [{**run, "command": "apply" if i % 2 else "plan"} for i in range(runs)]
    with store.engine.begin() as conn:
        conn.execute(insert(OwnedOverride), rows)
        conn.execute(insert(RunRecord), history)
    store.close()


def measure(base: str, paths: list[str], count: int) -> dict[str, tuple[float, float]]:
    """p50 and p95 milliseconds per path."""
    figures = {}
    with httpx.Client(base_url=base, timeout=30) as client:
        for path in paths:
            assert client.get(path).status_code == 200, path  # warm-up (and a check the page renders)
            times = []
            for _ in range(count):
                start = time.perf_counter()
                answer = client.get(path)
                _ = answer.content
                times.append((time.perf_counter() - start) * 1000)
            times.sort()
            figures[path] = (statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)])
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=10_000)
    parser.add_argument("--overrides", type=int, default=30_000)
    parser.add_argument("--runs", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crmsync-bench-console-") as tmp:
        url = f"sqlite:///{tmp}/state.db"
        started = time.perf_counter()
        seed(url, args.companies, args.overrides, args.runs)
        print(f"seeded {args.companies} companies, {args.overrides} owned overrides, {args.runs} runs "
              f"in {time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
        settings = load_settings({"CRMSYNC_DATABASE_URL": url, "CRMSYNC_ACTOR": "bench", "HOME": tmp})
        data = open_console_data(url)
        console = build_console(settings, Path(tmp), data)
        middle = f"Company {args.companies // 2:05}"
        paths = ["/", "/runs", f"/runs?before={args.runs // 2}", "/runs?actor=serve&status=ok", f"/runs/{args.runs}",
                 "/companies", "/companies?q=company+0042", f"/companies?q={100000 + args.companies // 3}",
                 f"/companies?after={middle}%09comp_{args.companies // 2:05}", "/problems", "/owned",
                 f"/owned?after={args.overrides // 2}", "/owned?company=company+0777", "/owned?feature=feat_sso",
                 "/owned?company=comp_00042&feature=seats"]  # fmt: skip
        with serve_app(standalone(console)) as served:
            figures = measure(f"{served.url}/ui", paths, args.requests)
        csv_start = time.perf_counter()
        with serve_app(standalone(console)) as served, httpx.Client(base_url=f"{served.url}/ui", timeout=120) as c:
            exported = c.get("/owned.csv").text.count("\n") - 1
        csv_seconds = time.perf_counter() - csv_start
        data.store.close()
    print(f"\n{'page':<58} {'p50 ms':>8} {'p95 ms':>8}")
    for path, (p50, p95) in figures.items():
        print(f"{path:<58} {p50:8.1f} {p95:8.1f}")
    worst = max(p95 for _, p95 in figures.values())
    print(f"\nworst p95: {worst:.1f} ms (goal ≤ 200 ms); CSV export of {exported} rows: {csv_seconds:.2f} s")
    return 0 if worst <= 200 else 1


if __name__ == "__main__":
    sys.exit(main())
