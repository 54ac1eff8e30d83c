"""Benchmark: seeding the Schematic emulator and paging its overrides (the emulator must never be
the bottleneck of a benchmark).

Run: python3 -m uv run python -m bench.seed [--companies 10000]
"""

from __future__ import annotations

import argparse
import time

from crmsync.sandbox.common import Call
from crmsync.sandbox.schematic import SchematicState
from crmsync.sandbox.schematic_api import MAX_LIMIT, list_overrides


def seed(companies: int) -> tuple[SchematicState, float]:
    """A state with `companies` companies (one key each) and one override per company; seconds taken."""
    state = SchematicState()
    started = time.perf_counter()
    feature = state.add_feature("Seats", "trait", "seats", feature_id="feat_seats")
    for c in range(companies):
        cid = state.add_company(f"Co {c}", {"hubspot_company_id": str(10_000 + c)}, company_id=f"comp_{c}")
        state.add_override(cid, feature, "numeric", value_numeric=c)
    return state, time.perf_counter() - started


def page_all(state: SchematicState, company: str | None = None) -> tuple[int, float]:
    """List every override page by page (of one company when given); records and seconds taken."""
    started, offset, seen = time.perf_counter(), 0, 0
    while True:
        query = {"limit": [str(MAX_LIMIT)], "offset": [str(offset)]}
        if company is not None:
            query["company_id"] = [company]
        reply = list_overrides(state, Call("GET", "/company-overrides", query, None))
        seen += len(reply.body["data"])
        if len(reply.body["data"]) < MAX_LIMIT:
            return seen, time.perf_counter() - started
        offset += MAX_LIMIT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--companies", type=int, default=10_000)
    args = parser.parse_args()
    state, seconds = seed(args.companies)
    print(f"seed {args.companies} companies + overrides: {seconds:8.2f} s")
    count, seconds = page_all(state)
    print(f"page all {count} overrides:               {seconds:8.2f} s")
    started = time.perf_counter()
    for c in range(0, args.companies, max(1, args.companies // 200)):
        page_all(state, f"comp_{c}")
    print(f"200 per-company override lists:          {time.perf_counter() - started:8.2f} s")


if __name__ == "__main__":
    main()
