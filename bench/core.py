"""Throughput of the pure core: translate + combine + diff, in deals per second, no I/O. Deals are
translated and combined page by page as a full read does (service/sync.py: `Translator` feeding a
`Combiner`).

Run (not part of the test suite):
    python3 -m uv run python -m bench.core [--deals 50000] [--companies 2000] [--profile]

The deals are built as the HubSpot connector builds them (`hubspot_convert.deal` on search
results shaped like the sandbox's of tests/benchmarks/reconcile.py) and translated by that
benchmark's mapping (3 rules). The live overrides are the desired ones, all owned (the no-op
state of a scheduled reconcile), so the diff compares every override. Only translate, combine
and diff are timed, in CPU seconds of this process (`seconds`, and `deals_per_s` from it: a machine
shared with other work slows the wall clock more), best of `repeat` runs; `wall_s` beside it.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.benchmarks.reconcile import MAPPING

from crmsync.connectors.hubspot_convert import deal as hubspot_deal
from crmsync.connectors.hubspot_convert import with_company
from crmsync.domain import CompanyId, CompanyKey, Deal, FeatureId, LiveOverride, OverrideId
from crmsync.mapping.loader import load_mappings
from crmsync.mapping.rules import Mappings
from crmsync.mapping.translate import Translator, translate
from crmsync.reconcile.combine import Combiner, combine
from crmsync.reconcile.diff import diff

NOW = datetime(2026, 12, 1, tzinfo=UTC)
PAGE = 1_000  # deals per page handed to translation (the HubSpot connector's association batch)
FEATURES = {"seats": FeatureId("feat_seats"), "SSO": FeatureId("feat_sso"), "API calls": FeatureId("feat_api_calls")}


def deals_for(deals: int, companies: int) -> list[Deal]:
    """`deals` won HubSpot deals spread over `companies` companies, as the connector hands them over."""
    return [
        with_company(
            hubspot_deal(
                {
                    "id": str(1_000_000 + d),
                    "properties": {
                        "dealname": f"Deal {d}",
                        "dealstage": "closedwon",
                        "pipeline": "default",
                        "closedate": f"2026-{1 + d % 11:02d}-{1 + d % 28:02d}T12:00:00Z",
                        "hs_lastmodifieddate": "2026-11-30T08:00:00.000Z",
                        "hs_object_id": str(1_000_000 + d),
                        "seats_purchased": str(5 + d % 50),
                        "sso_addon": "true",
                        "api_call_limit": str(1000 * (1 + d % 9)),
                    },
                }
            ),
            str(10_000 + d % companies),
        )
        for d in range(deals)
    ]


def mappings() -> Mappings:
    """The benchmark's mapping, loaded as crmsync loads a folder."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "hubspot.yaml").write_text(MAPPING)
        return load_mappings(tmp)


def core_run(maps: Mappings, companies: int) -> Callable[[list[Deal], list[LiveOverride]], int]:
    """translate → combine → diff of some deals against some live overrides (all owned); the changes."""
    key_map = {CompanyKey("hubspot_company_id", str(10_000 + c)): CompanyId(f"comp_{c}") for c in range(companies)}

    def run(deals: list[Deal], live: list[LiveOverride]) -> int:
        # as build_plan does a full read: each page translated and combined as it comes (1,000 deals)
        combiner = Combiner(key_map)
        translator = Translator(maps.files, FEATURES, NOW, sink=combiner.add)
        for start in range(0, len(deals), PAGE):
            translator.add(deals[start : start + PAGE])
        desired, _ = combiner.result()
        result = diff(desired, live, {o.id for o in live}, now=NOW)
        return len(result.changes)

    return run


def live_for(maps: Mappings, deals: list[Deal], companies: int) -> list[LiveOverride]:
    """The overrides a previous apply created for these deals (the no-op state)."""
    key_map = {CompanyKey("hubspot_company_id", str(10_000 + c)): CompanyId(f"comp_{c}") for c in range(companies)}
    desired, _ = combine(translate(deals, maps.files, FEATURES, NOW).contributions, key_map)
    return [
        LiveOverride(OverrideId(f"cmov_{n}"), want.company_id, want.feature_id, want.value)
        for n, want in enumerate(desired.values())
    ]


def measure_core(deals: int = 50_000, companies: int = 2_000, repeat: int = 3) -> dict[str, Any]:
    """Seconds for translate + combine + diff of `deals` in-memory deals (best of `repeat`), and deals/s."""
    maps = mappings()
    built = deals_for(deals, companies)
    live = live_for(maps, built, companies)
    run = core_run(maps, companies)
    best, best_wall = float("inf"), float("inf")
    for _ in range(repeat):
        start, wall = time.process_time(), time.perf_counter()
        changes = run(built, live)
        best, best_wall = min(best, time.process_time() - start), min(best_wall, time.perf_counter() - wall)
        if changes:
            raise AssertionError(f"the no-op state planned {changes} change(s)")
    return {
        "deals": deals,
        "seconds": round(best, 3),
        "deals_per_s": round(deals / best),
        "wall_s": round(best_wall, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=50_000)
    parser.add_argument("--companies", type=int, default=2_000)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one run (top 25 by own time)")
    args = parser.parse_args()
    if args.profile:
        maps = mappings()
        built = deals_for(args.deals, args.companies)
        live = live_for(maps, built, args.companies)
        run = core_run(maps, args.companies)
        profile = cProfile.Profile()
        profile.runcall(run, built, live)
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    print(measure_core(args.deals, args.companies))


if __name__ == "__main__":
    main()
