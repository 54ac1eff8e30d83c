"""The mapping preview at scale, and what keeping the deal snapshot adds to a no-op reconcile.

Run (not part of the test suite; a few minutes at 50k deals):
    python3 -m uv run python -m bench.preview --deals 50000 --companies 2000

The sandbox is seeded and served by one spawned child (bench.child.serve). A first fresh client
process applies once (every override created; the deal snapshot filled). A second runs a no-op full
reconcile (apply mode) and times, inside it, the snapshot upkeep (`Keeper.page` + `Keeper.finish`,
wrapped with timers here, in the benchmark only). A third previews an edit of the mapping (seats from
a rule `when` that halves who gets SSO) with `preview_mapping_edit`: its wall time and CPU, how many
changes the edit makes and are pending, where its deals came from, and the HubSpot calls it made.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import multiprocessing
import pstats
import time
from multiprocessing.connection import Connection
from typing import Any

from bench.child import patient_sandbox

EDIT = ('when: {sso_addon: "true"}', 'when: {sso_addon: "false"}')


def _apply(env: dict[str, str], conn: Connection) -> None:
    """A client process: one full reconcile (apply), timing the snapshot upkeep inside it."""
    from crmsync.app import open_context
    from crmsync.domain import Trigger
    from crmsync.mapping.loader import load_mappings
    from crmsync.service import snapshot
    from crmsync.service.reconcile import Mode, Request, reconcile
    from crmsync.settings import load_settings

    spent = [0.0]

    def timed(method: Any) -> Any:
        def wrapper(*args: Any) -> Any:
            start = time.process_time()
            try:
                return method(*args)
            finally:
                spent[0] += time.process_time() - start

        return wrapper

    snapshot.Keeper.page = timed(snapshot.Keeper.page)  # type: ignore[method-assign]
    snapshot.Keeper.finish = timed(snapshot.Keeper.finish)  # type: ignore[method-assign]
    settings = load_settings(env).unpaced()
    maps = load_mappings(settings.mappings)
    wall, cpu = time.perf_counter(), time.process_time()
    with open_context(settings, maps) as ctx:
        outcome = reconcile(ctx, maps, Request(Trigger.MANUAL, Mode.APPLY))
    conn.send({
        "client_cpu_s": round(time.process_time() - cpu, 2),
        "wall_s": round(time.perf_counter() - wall, 2),
        "snapshot_upkeep_cpu_s": round(spent[0], 3),
        "status": outcome.status.value,
        "changes": len(outcome.run.plan.changes) if outcome.run else None,
    })  # fmt: skip


def _preview(env: dict[str, str], conn: Connection, profile: bool = False) -> None:
    """A client process: one preview of an edited mapping file (`profile`: print where its time went)."""
    from crmsync.app import mapped_context
    from crmsync.service.preview import preview_mapping_edit
    from crmsync.settings import load_settings

    settings = load_settings(env).unpaced()
    text = (settings.mappings / "hubspot.yaml").read_text().replace(*EDIT)
    profiler = cProfile.Profile() if profile else None
    wall, cpu = time.perf_counter(), time.process_time()
    with mapped_context(settings.mappings, settings) as (ctx, maps):
        if profiler is not None:
            profiler.enable()
        result = preview_mapping_edit(ctx, maps, settings.mappings, "hubspot.yaml", text)
        if profiler is not None:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    conn.send({
        "preview_wall_s": round(time.perf_counter() - wall, 2),
        "preview_cpu_s": round(time.process_time() - cpu, 2),
        "problems": [str(p) for p in result.problems],
        "edit_changes": len(result.edit.split.edit) if result.edit else None,
        "pending_changes": len(result.edit.split.pending) if result.edit else None,
        "from_snapshot": result.data.from_snapshot if result.data else None,
        "data": result.data.note if result.data else None,
    })  # fmt: skip


def _spawned(target: Any, env: dict[str, str], *extra: Any) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=target, args=(env, child, *extra))
    proc.start()
    try:
        figures: dict[str, Any] = parent.recv()
    finally:
        proc.join(timeout=60)
    return figures


def measure_preview(deals: int, companies: int, *, profile: bool = False) -> dict[str, Any]:
    """Preview wall time at `deals` won HubSpot deals, and the snapshot upkeep's share of a no-op."""
    with patient_sandbox(deals, companies) as (sandbox, env):
        cold = _spawned(_apply, env)
        noop = _spawned(_apply, env)
        sandbox.send("mark")
        sandbox.recv()
        preview = _spawned(_preview, env, profile)
        sandbox.send("since")
        calls = sandbox.recv()
    made: dict[str, int] = calls["calls"]
    hubspot = {k: v for k, v in made.items() if k.startswith("hubspot")}
    writes = sum(v for k, v in made.items() if k.split()[:2] in (["schematic", "POST"], ["schematic", "PUT"],
                                                                  ["schematic", "DELETE"]))  # fmt: skip
    return {
        "deals": deals,
        "companies": companies,
        "cold_apply": cold,
        "noop_reconcile": noop,
        "preview": {**preview, "hubspot_calls": hubspot, "schematic_writes": writes},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=50_000)
    parser.add_argument("--companies", type=int, default=2_000)
    parser.add_argument("--profile", action="store_true", help="print where the preview's time went")
    args = parser.parse_args()
    print(json.dumps(measure_preview(args.deals, args.companies, profile=args.profile), indent=2))


if __name__ == "__main__":
    main()
