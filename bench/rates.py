"""Wall time under the vendors' published rate limits, against the floor those limits set.

Run (not part of the test suite; about 4 minutes, most of it waiting on the limits):
    python3 -m uv run python -m bench.rates [--deals 50000] [--companies 2000]

The sandbox child (bench/child.py) enforces what reference/hubspot.md and schematic-api.md publish:
HubSpot search 5 requests/s (429 SECONDLY), 100 calls per rolling 10 s for everything else (429
TEN_SECONDLY_ROLLING), neither with a Retry-After; Schematic's mutation bucket, 120 writes/s with a
burst of 120 (429 with `bucket`, Retry-After and X-RateLimit-*). crmsync runs as a user configured for
those limits would (`[hubspot] searches_per_second = 5`, `[schematic] writes_per_second = 120`), each
reconcile in a fresh client process (bench/client.py): a cold apply (every override created), a no-op,
and a reconcile after 1 % of the deals were re-priced.

The floor of a run is the time its needed calls take at those rates, the read lower bound first (the
plan needs every page before it writes), then the writes: searches past the bucket's burst at the
search rate, or the association reads at the 10 s rate if slower, plus writes past the burst at the
write rate. Schematic's reads (a few dozen pages) fall under its 300/s `global` bucket and are left out.
`ratio` = wall ÷ floor; 429s seen by the emulators are counted (pacing should avoid them).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import tempfile
from pathlib import Path
from typing import Any

from bench.child import client_env, serve
from bench.memory import spawned_client

SEARCHES_PER_S = 5.0  # reference/hubspot.md §3: "5 requests/s per account (current guide)"
CALLS_PER_10S = 100  # reference/hubspot.md §8: Free/Starter, the lowest tier
WRITES_PER_S, WRITE_BURST = 120.0, 120.0  # reference/schematic-api.md §8: the `mutation` bucket
SEARCH_PAGE, ASSOCIATION_BATCH = 200, 1_000
CONFIG = f"""[hubspot]
searches_per_second = {SEARCHES_PER_S}
deadline = 300.0

[schematic]
writes_per_second = {WRITES_PER_S}
timeout = 120.0
deadline = 300.0
"""


def floor_s(deals: int, writes: int) -> float:
    """Seconds the needed calls take at the published rates: the HubSpot read, then the writes."""
    searches = max(0.0, math.ceil(deals / SEARCH_PAGE) - SEARCHES_PER_S) / SEARCHES_PER_S  # the bucket starts full
    associations = max(0.0, math.ceil(deals / ASSOCIATION_BATCH) - CALLS_PER_10S) / (CALLS_PER_10S / 10)
    return max(searches, associations) + max(0.0, writes - WRITE_BURST) / WRITES_PER_S


def measure_rates(deals: int = 50_000, companies: int = 2_000, change: float = 0.01, seed: int = 13) -> dict[str, Any]:
    """Cold apply, no-op and 1 % change under the published limits: wall, floor, ratio, 429s."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    sandbox = ctx.Process(target=serve, args=(deals, companies, child), daemon=True)
    sandbox.start()

    def ask(command: Any) -> dict[str, Any]:
        parent.send(command)
        answer: dict[str, Any] = parent.recv()
        return answer

    runs: dict[str, Any] = {}
    try:
        sandbox_env: dict[str, str] = parent.recv()["env"]
        ask(("limits", SEARCHES_PER_S, CALLS_PER_10S, WRITES_PER_S, WRITE_BURST))
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "crmsync.toml").write_text(CONFIG)
            env = {**client_env(sandbox_env, tmp), "CRMSYNC_CONFIG": f"{tmp}/crmsync.toml"}

            def run(label: str, expected_writes: int | None) -> None:
                ask("mark")
                figures = spawned_client(env, paced=True)
                seen = ask("since")
                writes = sum(n for k, n in seen["calls"].items() if k.startswith("schematic") and " GET " not in k)
                refused = sum(seen["refused"].values())
                needed = expected_writes if expected_writes is not None else writes - _writes_refused(seen)
                floor = floor_s(deals, needed)
                runs[label] = {
                    "wall_s": figures["wall_s"],
                    "client_cpu_s": figures["client_cpu_s"],
                    "floor_s": round(floor, 2),
                    "ratio": round(figures["wall_s"] / floor, 3) if floor else None,
                    "writes_needed": needed,
                    "http_429": refused,
                    "refused": seen["refused"],
                    "status": figures["status"],
                    "failed": figures["failed"],
                    "load_average": figures["load_average"],
                }

            run("cold_6000", None)
            run("noop_50k", 0)
            changed = ask(("change", change, seed))
            run("change_1pct", changed["companies"])
            runs["change_1pct"]["verified"] = ask("verify")
    finally:
        parent.send("stop")
        sandbox.join(timeout=30)
    return {
        "deals": deals,
        "companies": companies,
        "limits": {
            "hubspot_searches_per_s": SEARCHES_PER_S,
            "hubspot_calls_per_10s": CALLS_PER_10S,
            "schematic_writes_per_s": WRITES_PER_S,
            "schematic_write_burst": WRITE_BURST,
        },
        "runs": runs,
    }


def _writes_refused(seen: dict[str, Any]) -> int:
    return sum(n for k, n in seen["refused"].items() if k.startswith("schematic") and " GET " not in k)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=50_000)
    parser.add_argument("--companies", type=int, default=2_000)
    args = parser.parse_args()
    print(json.dumps(measure_rates(args.deals, args.companies), indent=2))


if __name__ == "__main__":
    main()
