"""Benchmark: apply's write throughput against Schematic's mutation limit, and the ledger's cost.

Run (not part of the test suite):
    python3 -m uv run python -m bench.writes [--creates 1200] [--latency-ms 50] [--limit 120]

`measure_writes` seeds the sandbox in a child process (as bench/run.py does) with creates / 3
companies of one won deal each (3 overrides per company: a cold apply creates them all), the
Schematic emulator answering every call after `latency_ms` and limiting writes to `limit`/s
(burst `limit`, 429 + Retry-After past it, as Schematic's mutation bucket). crmsync runs here,
paced at `limit`/s by its shared rate budget (a SQLite state database), `[schematic]
max_in_flight` writes at once. Timed: the apply (from the plan's review to the end of the run).

`measure_ledger` applies the same cold plan with no latency and no limit, and counts what the
state database did during the apply (SQL statements, commits, time inside them) per create.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

from sqlalchemy import event
from tests.benchmarks.reconcile import data

from bench.child import client_env
from crmsync.app import open_context
from crmsync.domain import Trigger
from crmsync.mapping.loader import load_mappings
from crmsync.service.reconcile import Mode, Outcome, Request, reconcile
from crmsync.settings import Settings, load_settings

FEATURES = 3  # overrides per company in the benchmark's mapping (seats, SSO, API calls)


def _sandbox(companies: int, latency_s: float, limit: float, conn: Connection) -> None:
    """The child: serve the sandbox (latency, mutation limit); answer `counts`; stop on `stop`."""
    from crmsync.sandbox import Sandbox

    with Sandbox(data(companies, companies)) as sb:
        if latency_s or limit:  # (without either, the sandbox of an older crmsync serves too: before → after)
            sb.schematic.latency_seconds = latency_s
            sb.schematic.limit_writes(limit or None, limit or None)
        conn.send({"env": sb.env()})
        while conn.recv() != "stop":
            with sb.schematic.lock:
                statuses = [r.status for r in sb.schematic.requests if r.method != "GET"]
                conn.send(
                    {
                        "writes": len(statuses),
                        "429": statuses.count(429),
                        "overrides": len(sb.schematic.overrides),
                        "override_reads": sum(
                            1 for r in sb.schematic.requests if r.method == "GET" and r.path == "/company-overrides"
                        ),
                    }
                )


@contextmanager
def _served(companies: int, latency_s: float, limit: float) -> Iterator[tuple[dict[str, str], Any]]:
    ctx_mp = multiprocessing.get_context("spawn")
    parent, child = ctx_mp.Pipe()
    proc = ctx_mp.Process(target=_sandbox, args=(companies, latency_s, limit, child), daemon=True)
    proc.start()
    info = parent.recv()

    def counts() -> dict[str, int]:
        parent.send("counts")
        answer: dict[str, int] = parent.recv()
        return answer

    try:
        yield info["env"], counts
    finally:
        parent.send("stop")
        proc.join(timeout=30)


def _settings(env: dict[str, str], tmp: str, *, rate: float, in_flight: int | None) -> Settings:
    settings = load_settings(client_env(env, tmp)).unpaced()
    schematic = replace(settings.schematic, writes_per_second=rate)
    if in_flight is not None and hasattr(schematic, "max_in_flight"):
        schematic = replace(schematic, max_in_flight=in_flight)
    return replace(settings, schematic=schematic)


def _apply(settings: Settings, observe: Any = None) -> tuple[Outcome, float, float, Any]:
    """A cold reconcile (apply); the apply's wall and CPU seconds (from the review of the plan on)."""
    maps = load_mappings(settings.mappings)
    marks: dict[str, float] = {}

    def review(*_: Any) -> bool:
        marks["wall"], marks["cpu"] = time.perf_counter(), time.process_time()
        return True

    with open_context(settings, maps) as ctx:
        watch = observe(ctx) if observe is not None else None
        outcome = reconcile(ctx, maps, Request(Trigger.MANUAL, Mode.APPLY), review)
        wall, cpu = time.perf_counter() - marks["wall"], time.process_time() - marks["cpu"]
        return outcome, wall, cpu, (watch, ctx.schematic.transport)


def measure_writes(
    creates: int = 1200, latency_ms: float = 50, limit: float = 120, in_flight: int | None = None
) -> dict[str, Any]:
    """A cold apply of `creates` overrides at `latency_ms` per call against a `limit`/s mutation bucket:
    writes/s, its share of the limit, 429s seen (handled by waiting Retry-After) and unhandled."""
    companies = max(1, creates // FEATURES)
    with _served(companies, latency_ms / 1000, limit) as (env, counts), tempfile.TemporaryDirectory() as tmp:
        settings = _settings(env, tmp, rate=limit, in_flight=in_flight)
        before = counts()
        outcome, wall, cpu, (_, transport) = _apply(settings)
        after = counts()
    report = outcome.report
    failed = len(report.failed) if report is not None else 0
    writes = after["writes"] - before["writes"] - (after["429"] - before["429"])
    seen = after["429"] - before["429"]
    unhandled = sum(1 for r in report.failed if "rate limited" in r.message) if report is not None else 0
    return {
        "writes": writes,
        "creates": after["overrides"] - before["overrides"],
        "wall_s": round(wall, 2),
        "client_cpu_s": round(cpu, 2),
        "writes_per_s": round(writes / wall, 1),
        "limit_per_s": limit,
        "utilisation": round(writes / wall / limit, 3) if limit else None,
        "latency_ms": latency_ms,
        "http_429_seen": seen,
        "http_429_counted_by_client": getattr(transport, "rate_limited", None),
        "http_429_unhandled": unhandled,
        "failed": failed,
        "in_flight": getattr(transport, "max_in_flight", 1),
        "override_rereads": after["override_reads"] - before["override_reads"],
    }


def measure_ledger(creates: int = 1200) -> dict[str, Any]:
    """The state database's work during a cold apply of `creates` overrides (no latency, no limit):
    statements, commits and seconds inside them, per create, beside the apply's wall and CPU time."""

    def observe(ctx: Any) -> dict[str, float]:
        seen = {"statements": 0, "commits": 0, "sql_s": 0.0}
        engine = ctx.store.engine
        started: dict[int, float] = {}

        @event.listens_for(engine, "before_cursor_execute")
        def before(conn: Any, *_: Any) -> None:
            started[id(conn)] = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def after(conn: Any, *_: Any) -> None:
            seen["statements"] += 1
            seen["sql_s"] += time.perf_counter() - started.pop(id(conn), time.perf_counter())

        @event.listens_for(engine, "commit")
        def commit(conn: Any) -> None:
            seen["commits"] += 1

        return seen

    companies = max(1, creates // FEATURES)
    with _served(companies, 0.0, 0.0) as (env, counts), tempfile.TemporaryDirectory() as tmp:
        settings = _settings(env, tmp, rate=0.0, in_flight=None)
        outcome, wall, cpu, (seen, _) = _apply(settings, observe)
        made = counts()["overrides"]
    assert outcome.report is not None and not outcome.report.failed, "the cold apply failed"
    return {
        "creates": made,
        "statements_per_create": round(seen["statements"] / made, 2),
        "commits_per_create": round(seen["commits"] / made, 2),
        "sql_ms_per_create": round(seen["sql_s"] * 1000 / made, 3),
        "apply_wall_ms_per_create": round(wall * 1000 / made, 3),
        "apply_cpu_ms_per_create": round(cpu * 1000 / made, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creates", type=int, default=1200)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--limit", type=float, default=120)
    parser.add_argument("--in-flight", type=int, default=None, help="[schematic] max_in_flight (default: config)")
    parser.add_argument("--ledger", action="store_true", help="measure the ledger's cost instead")
    args = parser.parse_args()
    if args.ledger:
        print(json.dumps(measure_ledger(args.creates), indent=2))
    else:
        print(json.dumps(measure_writes(args.creates, args.latency_ms, args.limit, args.in_flight), indent=2))


if __name__ == "__main__":
    main()
