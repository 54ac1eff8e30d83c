"""`crmsync serve` under a burst: 2,000 signed HubSpot webhooks in 10 s against one serve on PostgreSQL.

Run (not part of the test suite; about 2 minutes; needs PostgreSQL on 127.0.0.1:5432, trust auth):
    python3 -m uv run python -m bench.burst [--webhooks 2000] [--seconds 10] [--deals 10000] [--companies 2000]

Three processes, as in production. The sandbox child (bench/child.py) serves the emulators and makes the
deals' edits. `crmsync serve` runs as users run it: the installed console script with
its defaults (pacing, poll and resync scheduler, mapping watcher), no emulated latency, its state in
a PostgreSQL database made for the run and dropped after; a first `apply` (bench/client.py) creates
the overrides, so serve starts in steady state. This process is the sender: for webhook n, at its slot
(evenly spread over the seconds), once the child has re-priced its deal (as a sales rep's edit would),
it posts HubSpot's v3-signed `deal.propertyChange` event for it, one event per request (the ingress's
hardest case: HubSpot batches up to 100), and times the answer.

Figures: `acknowledged_share` (answered 200 with the event stored), `ack_p50_s` / `ack_p95_s` /
`ack_max_s` (send → answer); `lost` (re-priced companies whose seat override does not hold the new
seats once drained, or at the deadline); `duplicates` (writes that left a value as it was, second
overrides of one company and feature, writes to companies not re-priced); `hints`, `company_reconciles`,
`runs` and `coalesced` (= hints minus company reconciles: hints answered by another hint's reconcile) from
serve's /metrics; `drain_s` (last acknowledgement → every change visible and the intake empty) beside
`drain_floor_s` (the changed companies' writes at serve's default 20 writes/s, less the burst's seconds);
`rss_idle_mb` / `peak_rss_mb` / `rss_growth_mb` (serve's VmRSS sampled every 50 ms: the 2 s before the
burst, then the burst and the drain).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.child import client_env, serve
from bench.memory import spawned_client
from crmsync.sandbox.webhook_push import APP_ID, PORTAL_ID, hubspot_encoder
from crmsync.settings_groups import SchematicSettings

ROOT = Path(__file__).resolve().parent.parent
POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
DRAIN_DEADLINE_S = 120.0
WRITES_PER_S = SchematicSettings().writes_per_second  # serve's default pacing
CONNECTIONS = 128  # kept-alive connections the sender posts over (HubSpot opens several at once)
LOG = Path(tempfile.gettempdir()) / "crmsync-burst-serve.log"
_METRIC = re.compile(r"^([a-z_]+)(?:\{([^}]*)\})? ([0-9.e+-]+)$")


def measure_burst(
    webhooks: int = 2_000,
    seconds: float = 10.0,
    deals: int = 10_000,
    companies: int = 2_000,
    seed: int = 13,
    log: Path = LOG,
) -> dict[str, Any]:
    """Start the three processes, send the burst, wait for the drain, return the figures (serve's log
    is left in `log`)."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    progress = ctx.Value("i", 0, lock=False)  # the deals the child has edited so far
    sandbox = ctx.Process(target=serve, args=(deals, companies, child, progress, True), daemon=True)
    sandbox.start()

    def ask(command: Any) -> dict[str, Any]:
        parent.send(command)
        answer: dict[str, Any] = parent.recv()
        return answer

    try:
        first = parent.recv()
        with postgres_database() as url, tempfile.TemporaryDirectory() as tmp:
            secret = secrets.token_hex(16)
            env = {**client_env(first["env"], tmp), "CRMSYNC_DATABASE_URL": url,
                   "HUBSPOT_CLIENT_SECRET": secret, "HUBSPOT_PORTAL_ID": str(PORTAL_ID)}  # fmt: skip
            cold = spawned_client(env)  # every override created: serve starts in steady state
            if cold.get("failed") or cold.get("status") != "ok":
                raise RuntimeError(f"the first apply did not succeed: {cold}")
            with running_serve(env, log) as (base, pid):
                chosen = ask(("pick", webhooks, seed))
                picked, changed = [tuple(p) for p in chosen["deals"]], chosen["companies"]
                ask("mark")
                before = scrape(base)
                with RssSampler(pid) as rss:
                    time.sleep(2.0)
                    idle = rss.peak()
                    rss.reset()
                    t0 = time.time() + 0.5
                    ask(("edit", picked, t0, seconds))
                    started = time.perf_counter() + (t0 - time.time())
                    cpu = serve_cpu(pid)
                    window = (serve_cpu(pid), serve_cpu(sandbox.pid or 0), time.process_time(), machine_cpu())
                    acks = asyncio.run(send(picked, base, secret, t0, seconds, progress))
                    sent = time.perf_counter()
                    during = during_burst(window, pid, sandbox.pid or 0)
                    drained, wrong = wait_drained(base, lambda: ask("verify")["wrong"])
                    peak = rss.peak()
                    cpu = serve_cpu(pid) - cpu
                after = scrape(base)
                writes = ask("writes")
    finally:
        parent.send("stop")
        sandbox.join(timeout=30)
    return figures(acks, before, after, writes, wrong, drained, started, sent, idle, peak) | {
        "serve_cpu_s": round(cpu, 2),
        "during_burst": during,
        "webhooks": webhooks,
        "seconds": seconds,
        "companies_changed": changed,
        # every changed company needs a write at serve's default pacing (Schematic documents 20 writes/s):
        # the soonest the last can land, counted from the end of the burst
        "drain_floor_s": round(max(0.0, changed / WRITES_PER_S - seconds), 1),
        "writes_per_s": WRITES_PER_S,
        "deals": deals,
        "companies": companies,
        "database": "postgresql",
    }


def figures(
    acks: list[tuple[bool, float]],
    before: dict[str, float],
    after: dict[str, float],
    writes: dict[str, Any],
    wrong: int,
    drained: float | None,
    started: float,
    sent: float,
    idle: float,
    peak: float,
) -> dict[str, Any]:
    """The burst's figures from what was measured (pure)."""
    latencies = sorted(seconds for _, seconds in acks)
    delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    hints = int(delta.get("hints", 0))
    reconciles = int(delta.get("company_reconciles", 0))
    return {
        "acknowledged_share": round(sum(ok for ok, _ in acks) / max(1, len(acks)), 4),
        "ack_p50_s": round(statistics.median(latencies), 4),
        "ack_p95_s": round(latencies[max(0, round(0.95 * len(latencies)) - 1)], 4),
        "ack_max_s": round(latencies[-1], 4),
        "sent_in_s": round(sent - started, 2),
        "lost": wrong,
        "duplicates": writes["redundant"] + writes["extra_overrides"] + writes["unexpected_writes"],
        "writes": writes["writes"],
        "duplicate_detail": {k: writes[k] for k in ("redundant", "extra_overrides", "unexpected_writes")},
        "hints": hints,
        "company_reconciles": reconciles,
        "runs": int(delta.get("runs", 0)),
        "coalesced": hints - reconciles,
        "drain_s": round(drained - sent, 2) if drained is not None else None,
        "applied_after_start_s": round(drained - started, 2) if drained is not None else None,
        "rss_idle_mb": round(idle, 1),
        "peak_rss_mb": round(peak, 1),
        "rss_growth_mb": round(peak - idle, 1),
    }


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for serve's state (SQLAlchemy URL), dropped afterwards."""
    name = f"crmsync_burst_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f"create database {name}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f"drop database if exists {name} with (force)")


def serve_cpu(pid: int) -> float:
    """CPU seconds (user + system) the process has used so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (/proc/stat; iowait counts as idle)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = ticks[3] + ticks[4]
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / hz, sum(ticks) / hz


def during_burst(
    window: tuple[float, float, float, tuple[float, float]], serve_pid: int, sandbox_pid: int
) -> dict[str, float]:
    """CPU seconds serve, the sandbox child and this sender used while the webhooks were sent, and how
    busy the machine's cores were meanwhile (1.0: every core all the time): a slow acknowledgement on a
    saturated machine is the machine's as much as serve's."""
    serve0, sandbox0, sender0, (busy0, total0) = window
    busy, total = machine_cpu()
    return {
        "serve_cpu_s": round(serve_cpu(serve_pid) - serve0, 2),
        "sandbox_cpu_s": round(serve_cpu(sandbox_pid) - sandbox0, 2),
        "sender_cpu_s": round(time.process_time() - sender0, 2),
        "machine_busy": round((busy - busy0) / max(1e-9, total - total0), 3),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def running_serve(env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    """`crmsync serve` as a user starts it (the console script beside this interpreter), ready and idle:
    (its base URL, its pid); stopped with SIGTERM when the block ends. Its log goes to `log`."""
    port = free_port()
    command = [str(Path(sys.executable).parent / "crmsync"), "serve", "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base, proc, log)
            yield base, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120.0) -> None:
    """Until /readyz answers 200 and the start-up resync is done (a run counted, nothing pending)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"crmsync serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                seen = scrape(base)
                if seen.get("runs", 0) >= 1 and seen.get("pending", 1) == 0:
                    return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"crmsync serve not ready and idle after {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def scrape(base: str) -> dict[str, float]:
    """The counters the burst is judged by, from serve's /metrics."""
    found = {"hints": 0.0, "company_reconciles": 0.0, "runs": 0.0, "pending": 0.0}
    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        match = _METRIC.match(line)
        if not match:
            continue
        name, labels, value = match.group(1), match.group(2) or "", float(match.group(3))
        if name == "crmsync_webhooks_total" and 'outcome="stored"' in labels:
            found["hints"] += value
        elif name == "crmsync_webhook_to_applied_seconds_count":
            found["company_reconciles"] += value
        elif name == "crmsync_runs_total":
            found["runs"] += value
        elif name == "crmsync_intake_pending":
            found["pending"] += value
    return found


async def send(picked: list[tuple[Any, ...]], base: str, secret: str, t0: float, seconds: float, done: Any) -> list[
    tuple[bool, float]
]:  # fmt: skip
    """Webhook n posted at its slot (epoch `t0` + n * seconds / count), once the child has made its edit
    (`done`: the edits made so far); (acknowledged, seconds from ready to send to the answer, a wait for
    a free connection included) each. A lean HTTP/1.1 client on kept-alive connections: httpx's async
    client costs the shared CPU more than serve's own ingress does, and would slow what it measures."""
    url = f"{base}/webhooks/hubspot"
    encode = hubspot_encoder(url, secret)
    host, port = base.removeprefix("http://").split(":")
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(CONNECTIONS):
        pool.put_nowait(await asyncio.open_connection(host, int(port)))

    async def one(n: int, deal_id: str, seats: int) -> tuple[bool, float]:
        await asyncio.sleep(max(0.0, t0 + n * seconds / len(picked) - time.time()))
        while done.value <= n:  # the edit first, as HubSpot sends a change after it is made
            await asyncio.sleep(0.001)
        event = {"eventId": 10_000_000 + n, "subscriptionId": 1, "portalId": PORTAL_ID, "appId": APP_ID,
                 "occurredAt": int(time.time() * 1000), "subscriptionType": "deal.propertyChange",
                 "objectId": int(deal_id), "propertyName": "seats_purchased", "propertyValue": str(seats),
                 "changeSource": "CRM_UI"}  # fmt: skip
        body, headers = encode([event], 1)
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        request = (f"POST /webhooks/hubspot HTTP/1.1\r\nhost: {host}:{port}\r\n{head}"
                   f"content-length: {len(body)}\r\n\r\n").encode() + body  # fmt: skip
        began = time.perf_counter()
        reader, writer = await pool.get()
        try:
            writer.write(request)
            status, answer = await _answer(reader)
            ok = status == 200 and json.loads(answer).get("stored") == 1
        except (OSError, ValueError, asyncio.IncompleteReadError):
            ok = False
            writer.close()
            reader, writer = await asyncio.open_connection(host, int(port))
        took = time.perf_counter() - began
        pool.put_nowait((reader, writer))
        return ok, took

    results = list(await asyncio.gather(*(one(n, d, s) for n, (d, s) in enumerate(picked))))
    while not pool.empty():
        pool.get_nowait()[1].close()
    return results


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One HTTP/1.1 response: its status and body (Content-Length framed, as uvicorn answers JSON)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = next((int(v) for k, _, v in (h.partition(":") for h in lines[1:]) if k.lower() == "content-length"), 0)
    return status, await reader.readexactly(length)


def wait_drained(base: str, wrong: Callable[[], int]) -> tuple[float | None, int]:
    """(when every change was visible and the intake empty, or None at the deadline; companies still wrong)."""
    end = time.perf_counter() + DRAIN_DEADLINE_S
    left = wrong()
    while time.perf_counter() < end:
        left = wrong()
        if left == 0 and scrape(base)["pending"] == 0:
            return time.perf_counter(), 0
        time.sleep(0.1)
    return None, left


class RssSampler:
    """A process's resident memory (VmRSS) every 50 ms in a thread; `peak()` since the last `reset()`."""

    def __init__(self, pid: int) -> None:
        self.path = Path(f"/proc/{pid}/status")
        self._peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, self.read())
            self._stop.wait(0.05)

    def read(self) -> float:
        try:
            text = self.path.read_text()
        except OSError:  # the process is gone
            return 0.0
        for line in text.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def peak(self) -> float:
        return max(self._peak, self.read())

    def reset(self) -> None:
        self._peak = 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--webhooks", type=int, default=2_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--deals", type=int, default=10_000)
    parser.add_argument("--companies", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--log", type=Path, default=LOG, help=f"serve's log (default {LOG})")
    args = parser.parse_args()
    figures = measure_burst(args.webhooks, args.seconds, args.deals, args.companies, args.seed, args.log)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
