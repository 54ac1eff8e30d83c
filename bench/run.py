"""Benchmark suite: crmsync measured on its own, the emulators in another process.

Run (not part of the test suite; the default takes a while: run it on a quiet machine):
    python3 -m uv run python -m bench.run [--readme]
    python3 -m uv run python -m bench.run --quick                  # one small size, to iterate
    python3 -m uv run python -m bench.run --only sizes --size 3000x300
Parts (--only, comma-separated): sizes (cold, no-op and 1 % changed reconciles per size, and the
per-deal resync at 50k deals), webhook, writes, memory, core, rates, burst (bench/burst.py: needs
PostgreSQL on 127.0.0.1:5432). The default runs every part at
50,000 deals / 2,000 companies and 30,000 deals / 10,000 companies and writes bench/results.json
(machine, date, command, commit, dirty, each figure, the targets and whether each is met); a partial
or quick run writes to a temporary file unless --out is given. --readme then regenerates the README's block.

Each size runs in a fresh client process against a sandbox child (bench/size.py, bench/child.py),
so client CPU (`time.process_time`) and peak RSS (`ru_maxrss`) are crmsync's alone; calls are
counted per endpoint by the emulators.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import readme
from bench.burst import measure_burst
from bench.core import measure_core
from bench.memory import measure_rss
from bench.plot import draw
from bench.rates import measure_rates
from bench.results import PRIMARY, assemble, parse_latency, parse_sequential, write
from bench.size import in_fresh_process, measure_size
from bench.writes import measure_writes

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
PARTS = ("sizes", "webhook", "writes", "memory", "core", "rates", "burst")
FULL = {
    "sizes": [PRIMARY, (30_000, 10_000)],
    "webhooks": 100,
    "creates": 1200,
    "memory": [(50_000, 2_000), (100_000, 2_000), (100_000, 10_000)],
    "core": 50_000,
    "rates": (50_000, 2_000),
    "burst": {"webhooks": 2_000, "seconds": 10.0, "deals": 10_000, "companies": 2_000},
}
QUICK = {"sizes": [(3_000, 300)], "webhooks": 20, "creates": 240, "memory": [(5_000, 200)], "core": 5_000,
         "rates": (3_000, 300),
         "burst": {"webhooks": 200, "seconds": 2.0, "deals": 3_000, "companies": 300}}  # fmt: skip


def _size(text: str) -> tuple[int, int]:
    deals, _, companies = text.lower().partition("x")
    return int(deals), int(companies)


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def sizes(plan: dict[str, Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    measured = []
    for n, (deals, companies) in enumerate(plan["sizes"]):
        per_deal = args.per_deal_sample if n == 0 else None  # the ratio is of the first (50k) size
        _say(f"size {deals} deals / {companies} companies" + (" + per-deal resync" if per_deal is not None else ""))
        measured.append(in_fresh_process(measure_size, deals, companies, per_deal, args.change, args.seed))
    return measured


def webhook(plan: dict[str, Any]) -> dict[str, float]:
    """p50/p95 of tests/benchmarks/serve_latency.py at 0 and 50 ms per call (a subprocess each)."""
    out: dict[str, float] = {"webhooks": plan["webhooks"]}
    for ms in (0, 50):
        _say(f"webhook latency, {plan['webhooks']} webhooks at {ms} ms per call")
        command = [
            sys.executable,
            "-m",
            "tests.benchmarks.serve_latency",
            "--changes",
            str(plan["webhooks"]),
            "--latency-ms",
            str(ms),
        ]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False)
        if done.returncode:
            raise RuntimeError(f"serve_latency failed ({done.returncode}): {done.stderr[-2000:]}")
        out[f"p50_{ms}ms"], out[f"p95_{ms}ms"] = parse_latency(done.stdout)
        if ms == 50:
            out["sequential_calls_50ms"] = parse_sequential(done.stdout)
    return out


def writes(plan: dict[str, Any]) -> dict[str, Any]:
    _say(f"writes: {plan['creates']} creates at 50 ms per call, limit 120/s")
    result: dict[str, Any] = measure_writes(creates=plan["creates"], latency_ms=50, limit=120)
    return result


def memory(plan: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for deals, companies in plan["memory"]:
        _say(f"memory: fresh client at {deals} deals / {companies} companies")
        name = f"{deals // 1000}k" + ("" if companies == 2_000 else f"_{companies // 1000}k")
        out[name] = measure_rss(deals, companies)
    return out


def rates(plan: dict[str, Any]) -> dict[str, Any]:
    deals, companies = plan["rates"]
    _say(f"rates: cold, no-op and 1 % change at {deals} deals under the vendors' published limits")
    return measure_rates(deals, companies)


def burst(plan: dict[str, Any]) -> dict[str, Any]:
    b = plan["burst"]
    _say(f"burst: {b['webhooks']} signed webhooks in {b['seconds']:g} s at one crmsync serve on PostgreSQL")
    return measure_burst(b["webhooks"], b["seconds"], b["deals"], b["companies"])


def commit() -> tuple[str, bool]:
    """The commit measured and whether the work tree differed from it (bench/results.json aside)."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    status = subprocess.run(
        ["git", "status", "--porcelain", "--", ".", ":!bench/results.json", ":!README.md", ":!bench/scaling.png"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return (head.stdout.strip() or "unknown"), bool(status.stdout.strip())


def core(plan: dict[str, Any]) -> dict[str, Any]:
    _say(f"core: translate + combine + diff of {plan['core']} deals, in a fresh process")
    # A fresh process, like the memory figures: this one's heap, grown by the parts before, slowed the
    # pure core by ~20% (47k deals/s here against 57k alone, same code, same machine).
    return in_fresh_process(measure_core, plan["core"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts of {', '.join(PARTS)}")
    parser.add_argument("--quick", action="store_true", help="small sizes, to iterate (not the targets' sizes)")
    parser.add_argument(
        "--size",
        action="append",
        type=_size,
        metavar="DEALSxCOMPANIES",
        help="instead of the default sizes (repeatable; the first gets the per-deal resync)",
    )
    parser.add_argument(
        "--per-deal-sample",
        type=int,
        default=0,
        metavar="N",
        help="per-deal resync of a random sample of N deals, extrapolated (0: every deal)",
    )
    parser.add_argument("--change", type=float, default=0.01, help="fraction of deals re-priced (default 1 %%)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, help="results file (default bench/results.json for a full run)")
    parser.add_argument("--readme", action="store_true", help="then regenerate the README's Performance block")
    args = parser.parse_args(argv)
    only = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = sorted(set(only) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    plan = dict(QUICK if args.quick else FULL)
    if args.size:
        plan["sizes"] = args.size
    full = not args.quick and not args.size and set(only) == set(PARTS)
    out = args.out or (RESULTS if full else Path(tempfile.gettempdir()) / "crmsync-bench-results.json")
    if args.readme and out != RESULTS:  # said before the run, not after it
        parser.error("--readme regenerates the README from bench/results.json: run the full suite (or --out)")
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    measured_commit, dirty = commit()  # before the run: what was measured
    parts: dict[str, Any] = {}
    measured = sizes(plan, args) if "sizes" in only else []
    steps = (("writes", writes), ("memory", memory), ("core", core), ("rates", rates), ("webhook", webhook),
             ("burst", burst))  # fmt: skip
    for name, part in steps:
        if name in only:
            parts[name] = part(plan)
    meta = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average": {"start": round(load_before, 2), "end": round(os.getloadavg()[0], 2)},
        },
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": measured_commit,
        "dirty": dirty,
        "command": "python3 -m uv run python -m bench.run" + (" " + shlex.join(sys.argv[1:]) if sys.argv[1:] else ""),
        "wall_s_total": round(time.perf_counter() - started, 1),
    }
    results = assemble(meta, measured, parts)
    write(results, out)
    print(readme.render(results))
    print(f"\nwrote {out}")
    if out == RESULTS:  # the README's picture follows the results it shows
        draw(results, ROOT / "bench" / "scaling.png")
        print(f"drew {ROOT / 'bench' / 'scaling.png'}")
    if args.readme:
        target = ROOT / "README.md"
        target.write_text(readme.replace_block(target.read_text(), readme.render(results)))
        print(f"rewrote the Performance block of {target}")


if __name__ == "__main__":
    main()
