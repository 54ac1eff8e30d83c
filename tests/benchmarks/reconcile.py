"""Benchmark: read, plan and apply at scale against the sandbox, with time, calls and peak memory.

Not part of the test suite (timings do not belong in tests). Run:
    python3 -m uv run python -m tests.benchmarks.reconcile [--deals 50000] [--companies 2000]
Every number comes from one run; the sandbox runs in the same process, so its work and memory
are inside the numbers (an upper bound for crmsync alone).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from crmsync.app import open_context
from crmsync.connectors.base import DealQuery
from crmsync.connectors.hubspot import HubSpotConnector, HubSpotSettings
from crmsync.domain import Trigger
from crmsync.mapping.loader import load_mappings
from crmsync.mapping.rules import DealFilter
from crmsync.sandbox import Sandbox, SandboxData, parse_data
from crmsync.service.planning import build_plan
from crmsync.service.reconcile import Mode, Request, reconcile
from crmsync.settings import load_settings

T = TypeVar("T")

MAPPING = """\
source: hubspot
deals:
  stages: [closedwon]
company:
  key: hubspot_company_id
overrides:
  - {feature: seats, type: numeric, from: seats_purchased}
  - {feature: SSO, type: boolean, value: true, when: {sso_addon: "true"}}
  - {feature: API calls, type: numeric, from: api_call_limit, metric_period: current_month}
"""


def measure(label: str, action: Callable[[], T]) -> T:
    """Run once; print wall time, process CPU and peak resident memory so far (sandbox threads included)."""
    started, cpu = time.perf_counter(), time.process_time()
    result = action()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{label:<44} {seconds:8.2f} s   CPU {cpu:7.2f} s   peak RSS {peak:7.1f} MiB")
    return result


def data(deals: int, companies: int, modified_before: datetime | None = None) -> SandboxData:
    """A sandbox with `companies` Schematic companies and `deals` won deals spread over them, each created
    and last modified when the sandbox starts, or, given `modified_before`, a minute apart up to then
    (an account's history: a poll after the start sees only the edits made since)."""

    def dated(d: int) -> dict[str, str]:
        if modified_before is None:
            return {}
        stamp = (modified_before - timedelta(minutes=deals - d)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        return {"createdate": stamp, "hs_lastmodifieddate": stamp}

    features = [
        {"id": "feat_seats", "name": "Seats", "feature_type": "trait", "flag_key": "seats"},
        {"id": "feat_sso", "name": "SSO", "feature_type": "boolean", "flag_key": "sso"},
        {"id": "feat_api_calls", "name": "API calls", "feature_type": "event", "flag_key": "api-calls"},
    ]
    raw = {
        "hubspot": {
            "companies": [{"id": str(10_000 + c), "name": f"Co {c}"} for c in range(companies)],
            "pipelines": [  # the mapping's stages are checked against the pipelines API before the read
                {
                    "id": "default",
                    "label": "Sales Pipeline",
                    "stages": [{"id": "closedwon", "label": "Closed won", "is_closed": True, "probability": 1.0}],
                }
            ],
            "deals": [
                {
                    "id": str(1_000_000 + d),
                    "companies": [str(10_000 + d % companies)],
                    "properties": {
                        "dealstage": "closedwon",
                        "pipeline": "default",
                        "seats_purchased": str(5 + d % 50),
                        "sso_addon": "true",
                        "api_call_limit": str(1000 * (1 + d % 9)),
                    }
                    | dated(d),
                }
                for d in range(deals)
            ],
        },
        "schematic": {
            "features": features,
            "companies": [
                {"id": f"comp_{c}", "name": f"Co {c}", "keys": {"hubspot_company_id": str(10_000 + c)}}
                for c in range(companies)
            ],
        },
    }
    return parse_data(raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deals", type=int, default=50_000)
    parser.add_argument("--companies", type=int, default=2_000)
    args = parser.parse_args()
    print(f"{args.deals} won deals over {args.companies} companies, 3 rules → {3 * args.companies} overrides")
    with Sandbox(data(args.deals, args.companies)) as sb, tempfile.TemporaryDirectory() as tmp:
        connector = HubSpotConnector(HubSpotSettings(sb.hubspot_url, sb.hubspot.access_token, searches_per_second=0))
        query = DealQuery((DealFilter(stages=("closedwon",)),), ("seats_purchased", "sso_addon", "api_call_limit"))
        result = measure("HubSpot read (search windows + associations)", lambda: connector.read_deals(query))
        print(f"{'':<44} {len(result.deals)} deals in {result.requests} requests")
        (Path(tmp) / "maps").mkdir()
        (Path(tmp) / "maps" / "hubspot.yaml").write_text(MAPPING)
        env = {**sb.env(), "CRMSYNC_DATABASE_URL": f"sqlite:///{tmp}/state.db", "CRMSYNC_MAPPINGS": f"{tmp}/maps"}
        settings = load_settings(env).unpaced()
        maps = load_mappings(settings.mappings)
        with open_context(settings, maps) as ctx:
            first = measure("plan (empty Schematic)", lambda: reconcile(ctx, maps, Request(Trigger.MANUAL, Mode.PLAN)))
            assert first.run is not None
            calls = ctx.schematic.transport.calls
            applied = measure(
                f"plan + apply ({len(first.run.plan.changes)} creates)",
                lambda: reconcile(ctx, maps, Request(Trigger.MANUAL, Mode.APPLY)),
            )
            failed = len(applied.report.failed) if applied.report else 0
            print(f"{'':<44} {ctx.schematic.transport.calls - calls} Schematic calls, {failed} failed")
            before = ctx.schematic.transport.calls
            second = measure("plan again (nothing changed)", lambda: build_plan(ctx, maps))
            print(
                f"{'':<44} {len(second.plan.changes)} changes, {ctx.schematic.transport.calls - before} Schematic reads"
            )


if __name__ == "__main__":
    main()
