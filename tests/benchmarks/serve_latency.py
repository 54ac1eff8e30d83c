"""Benchmark: deal close → override visible through the serve ingress, p50 / p95 over N pushed webhooks.

Not part of the test suite (timings do not belong in tests). Run:
    python3 -m uv run python -m tests.benchmarks.serve_latency [--changes 100] [--latency-ms 50]
The sandbox pushes its real, signed webhooks on loopback to the service `crmsync serve` runs, built by
the same function (app.py `build_service`: default pacing, scheduler, alerter, mapping watcher), its
lifespan started; the intake worker resolves (one thread) and reconciles (another) each change. All in
one process, no emulated latency unless asked. The start-up resync finishes before the first change.

It also counts the API calls the emulators received while each change went from the push to the
visible override (HubSpot's and Schematic's; the worker handles one change at a time, so these are
the change's path) and prints the sequential round trips of the median change and its calls: with
emulated latency, calls that reached the emulators within 0.8 of the latency of a round's first call were
sent side by side and count once (`rounds`); `p50 / latency` is printed beside it as a check. With
no latency every call is counted.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from crmsync.app import build_service
from crmsync.cli.demo import sample_mappings
from crmsync.sandbox import Sandbox
from crmsync.sandbox.faults import Mode
from crmsync.sandbox.serve import serve_app
from crmsync.serving.runtime import ServeOptions
from crmsync.serving.worker import wait_idle
from crmsync.settings import load_settings
from crmsync.store.intake import IntakeStore

NOW = "2026-11-21T12:00:00Z"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="emulated latency of every API call")
    args = parser.parse_args()
    with Sandbox() as sb, tempfile.TemporaryDirectory() as tmp:
        if args.latency_ms:
            for faults in (sb.faults.hubspot, sb.faults.schematic, sb.faults.salesforce):
                faults.add(Mode.LATENCY, seconds=args.latency_ms / 1000)
        env = {**sb.env(), **sb.webhooks.env(),  # the secrets the sandbox will sign with
               "CRMSYNC_DATABASE_URL": f"sqlite:///{tmp}/state.db",
               "CRMSYNC_MAPPINGS": str(sample_mappings()), "CRMSYNC_NOW": NOW}  # fmt: skip
        service = build_service(load_settings(env), ServeOptions(port=0))
        try:
            with serve_app(service.app, lifespan=True) as server:
                settle(service.intake)
                sb.subscribe(server.url)
                samples, paths = measure(sb, args.changes)
        finally:
            service.resources.close()  # when the lifespan never ran (it closes them otherwise)
    samples.sort()
    p50, p95 = statistics.median(samples), samples[max(0, round(0.95 * len(samples)) - 1)]
    print(
        f"{len(samples)} deal changes pushed as signed webhooks → override visible in Schematic "
        f"({args.latency_ms:.0f} ms per API call):"
    )
    print(f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {samples[-1] * 1000:.0f} ms")
    paths.sort(key=lambda path: (rounds(path, args.latency_ms / 1000), len(path)))
    median = paths[len(paths) // 2]
    names = ", ".join(f"{service} {method} {path}" for service, method, path, _ in sorted(median, key=lambda c: c[3]))
    if args.latency_ms:
        print(
            f"sequential calls {rounds(median, args.latency_ms / 1000)} (calls made side by side counted once; "
            f"{len(median)} calls in all, {p50 / (args.latency_ms / 1000):.1f} by p50 / latency): {names}"
        )
    else:  # with no latency, calls side by side cannot be told from sequential ones: all are counted
        print(f"sequential calls {len(median)} (every call counted; measure at --latency-ms 50 for rounds): {names}")


Call = tuple[str, str, str, float]  # service, method, path, when the emulator received it (monotonic)


def rounds(path: list[Call], latency: float) -> int:
    """The sequential round trips of one change's calls: a call that arrived before the first call of
    the current round could have been answered (its latency) was sent beside it, not after it."""
    count, started = 0, None
    for *_, at in sorted(path, key=lambda call: call[3]):
        if started is None or at - started >= 0.8 * latency:
            count, started = count + 1, at
    return count


def settle(intake: IntakeStore) -> None:
    """Wait for the start-up catch-up (the resync serve queues at start) to be done."""
    time.sleep(1.0)  # the scheduler fires the start-up jobs just after the lifespan starts
    if not wait_idle(intake, timeout=120):
        raise SystemExit("the start-up resync did not finish in 120 s")


def measure(sb: Sandbox, changes: int) -> tuple[list[float], list[list[Call]]]:
    """Close (re-price) Hooli's deal 1023 `changes` times, each time waiting for the override to follow;
    the seconds each took and the API calls made meanwhile (service, method, path), in order."""
    samples, paths = [], []
    for n in range(changes):
        seats = 1000 + n
        marks = {name: len(state.requests) for name, state in (("hubspot", sb.hubspot), ("schematic", sb.schematic))}
        start = time.perf_counter()
        sb.hubspot.update_deal("1023", dealstage="closedwon", seats_purchased=str(seats))
        while not any(o["company_id"] == "comp_hooli" and o["feature_id"] == "feat_seats"
                      and o["value_numeric"] == seats for o in sb.schematic.overrides.values()):  # fmt: skip
            if time.perf_counter() - start > 30:
                raise SystemExit(f"change {n} not visible after 30 s")
            time.sleep(0.002)
        samples.append(time.perf_counter() - start)
        time.sleep(0.05)  # the write's answer and the worker's bookkeeping: counted with this change
        paths.append([(name, r.method, r.path, r.at) for name, state in (("hubspot", sb.hubspot),
                      ("schematic", sb.schematic)) for r in state.requests[marks[name]:]])  # fmt: skip
    return samples, paths


if __name__ == "__main__":
    main()
