"""Pure logic of the benchmark: per-run figures from counted calls, the read lower bound,
`results.json` (every required key, the targets and whether each is met) and the printed table.
No I/O but `write` (one file)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from bench.child import BY_COMPANY
from crmsync.connectors.hubspot import ASSOCIATION_BATCH, PAGE
from crmsync.service.leased_apply import CHUNK

NOT_MEASURED = "not measured"
SCHEMATIC_PAGE = 250
PRIMARY = (50_000, 2_000)  # deals, companies: the size the headline keys are taken from
REQUIRED = {
    "machine": (),
    "date": (),
    "command": (),
    "commit": (),
    "dirty": (),
    "noop_reconcile": ("writes", "reads", "read_lower_bound"),
    "per_deal_ratio": (),
    "write_limit_utilisation": (),
    "webhook_latency_s": ("p50_0ms", "p95_0ms", "p50_50ms", "p95_50ms"),
    "webhook_sequential_calls_50ms": (),
    "translate_diff_deals_per_s": (),
    "client_cpu_s_noop_50k": (),
    "peak_rss_mb": ("client_50k", "client_100k", "client_100k_10k_companies"),
    "rate_floor_ratio": ("noop_50k", "cold_6000", "change_1pct"),
    "burst": ("acknowledged_share", "ack_p95_s", "lost", "duplicates", "drain_s"),
    "targets": (),
}
MEMORY_KEYS = {"50k": "client_50k", "100k": "client_100k", "100k_10k": "client_100k_10k_companies"}


def lower_bound(calls: dict[str, int], deals: int, companies: int, overrides: int) -> int:
    """The fewest plan reads that return the same data: per endpoint read, the pages its collection
    needs (at least one). Company-filtered override lists (the apply's re-reads) are not plan reads."""
    sizes = {
        "hubspot POST /crm/v3/objects/deals/search": math.ceil(deals / PAGE),
        "hubspot POST /crm/v4/associations/deals/companies/batch/read": math.ceil(deals / ASSOCIATION_BATCH),
        "schematic GET /companies": math.ceil(companies / SCHEMATIC_PAGE),
        "schematic GET /company-overrides": math.ceil(overrides / SCHEMATIC_PAGE) or 1,
    }
    return sum(sizes.get(k, 1) for k in calls if _is_read(k) and not k.endswith(BY_COMPANY))


def _is_read(endpoint: str) -> bool:
    return " GET " in endpoint or endpoint.endswith(("/search", "/read"))


def run_figures(
    calls: dict[str, int],
    figures: dict[str, float],
    *,
    deals: int,
    companies: int,
    overrides: int,
    companies_written: int,
    failed: int,
    expected: dict[str, Any] | None = None,
    refused: dict[str, int] | None = None,
) -> dict[str, Any]:
    """One reconcile's figures. reads = plan reads + verification reads: the apply re-reads, under the
    leases, the overrides of each chunk of `CHUNK` companies it writes to (one company-filtered
    list per chunk); those are counted apart and the ratio is of the plan reads to their bound.
    `refused`: calls answered with an error, as "endpoint status"; writes are the write calls that
    succeeded, a refused one (a 429 under the write limit, then retried) is in `writes_refused`."""
    attempts = sum(n for k, n in calls.items() if k.startswith("schematic") and not _is_read(k))
    rejected = sum(
        n for k, n in (refused or {}).items() if k.startswith("schematic") and not _is_read(k.rsplit(" ", 1)[0])
    )
    writes = attempts - rejected
    reads = sum(calls.values()) - attempts
    verification = sum(n for k, n in calls.items() if k.endswith(BY_COMPANY))
    bound = lower_bound(calls, deals, companies, overrides)
    out: dict[str, Any] = {
        **figures,
        "reads": reads,
        "plan_reads": reads - verification,
        "verification_reads": verification,
        "verification_expected": math.ceil(companies_written / CHUNK),
        "read_lower_bound": bound,
        "read_ratio": round((reads - verification) / bound, 3) if bound else None,
        "writes": writes,
        "writes_refused": rejected,
        "companies_written": companies_written,
        "failed": failed,
        "calls": calls,
        "refused": refused or {},
    }
    if expected is not None:
        out.update(
            changed_deals=expected["deals"],
            expected_writes=expected["companies"],
            writes_match=writes == expected["companies"] and failed == 0,
        )
    return out


def parse_latency(output: str) -> tuple[float, float]:
    """p50 and p95 in seconds from tests/benchmarks/serve_latency.py's output."""
    found = re.search(r"p50 (\d+) ms, p95 (\d+) ms", output)
    if found is None:
        raise ValueError(f"no p50/p95 in the latency benchmark's output: {output[-300:]!r}")
    return int(found[1]) / 1000, int(found[2]) / 1000


def parse_sequential(output: str) -> int:
    """The median change's API calls on its path, from tests/benchmarks/serve_latency.py's output."""
    found = re.search(r"sequential calls (\d+)", output)
    if found is None:
        raise ValueError(f"no sequential call count in the latency benchmark's output: {output[-300:]!r}")
    return int(found[1])


def headline(sizes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The size the headline keys come from: 50k deals / 2k companies when measured, else the first
    (a quick or custom run; `headline_size` says which, and the `_50k` keys stay unmeasured)."""
    return next((s for s in sizes if (s["deals"], s["companies"]) == PRIMARY), sizes[0] if sizes else None)


def per_deal_calls(size: dict[str, Any]) -> int | None:
    """The per-deal resync's calls: the HubSpot read + 2 Schematic calls per deal (measured for
    every deal, or for a sample and extrapolated linearly to every deal)."""
    per = size.get("per_deal")
    if not per or not per["deals_resynced"]:
        return None
    return int(per["hubspot_read_calls"] + round(per["schematic_calls"] * per["deals"] / per["deals_resynced"]))


def assemble(meta: dict[str, Any], sizes: list[dict[str, Any]], parts: dict[str, Any]) -> dict[str, Any]:
    """results.json from the measurements: `parts` holds "webhook" ({p50_0ms, …, sequential_calls_50ms}),
    "writes", "memory" ({"50k": …, "100k": …, "100k_10k": …}), "core", "rates" (bench/rates.py) and
    "burst" as measured, each absent or NOT_MEASURED if not."""
    head = headline(sizes)
    noop = head["runs"]["no-op reconcile"] if head else None
    at_50k = head is not None and (head["deals"], head["companies"]) == PRIMARY
    calls = per_deal_calls(head) if head else None
    noop_calls = sum(noop["calls"].values()) if noop else 0
    writes, memory, core = parts.get("writes"), parts.get("memory") or {}, parts.get("core")
    rates, burst, webhook = parts.get("rates"), parts.get("burst"), parts.get("webhook") or {}
    results = {
        **meta,
        "sizes": sizes,
        "headline_size": {"deals": head["deals"], "companies": head["companies"]} if head else NOT_MEASURED,
        "noop_reconcile": {k: noop[k] for k in ("writes", "reads", "read_lower_bound", "read_ratio")}
        if noop
        else dict.fromkeys(("writes", "reads", "read_lower_bound"), NOT_MEASURED),
        "per_deal_ratio": round(calls / noop_calls, 1) if calls and noop_calls else NOT_MEASURED,
        "per_deal_calls": calls if calls else NOT_MEASURED,
        "write_limit_utilisation": writes["utilisation"] if isinstance(writes, dict) else NOT_MEASURED,
        "webhook_latency_s": {k: webhook.get(k, NOT_MEASURED) for k in ("webhooks", *REQUIRED["webhook_latency_s"])},
        "webhook_sequential_calls_50ms": webhook.get("sequential_calls_50ms", NOT_MEASURED),
        "translate_diff_deals_per_s": core["deals_per_s"] if isinstance(core, dict) else NOT_MEASURED,
        "client_cpu_s_noop_50k": noop["client_cpu_s"] if noop and at_50k else NOT_MEASURED,
        "peak_rss_mb": {
            name: memory[k]["peak_rss_mb"] if isinstance(memory.get(k), dict) else NOT_MEASURED
            for k, name in MEMORY_KEYS.items()
        },
        "rate_floor_ratio": {
            k: rates["runs"][k]["ratio"] if isinstance(rates, dict) and k in rates["runs"] else NOT_MEASURED
            for k in REQUIRED["rate_floor_ratio"]
        },
        "burst": {k: burst[k] if isinstance(burst, dict) else NOT_MEASURED for k in REQUIRED["burst"]},
        "runs": {
            "writes": writes or NOT_MEASURED,
            "memory": memory or NOT_MEASURED,
            "core": core or NOT_MEASURED,
            "rates": rates or NOT_MEASURED,
            "burst": burst or NOT_MEASURED,
        },
    }
    results["targets"] = targets(results)
    return results


def _num(value: Any) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def targets(r: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target of issue 23: what it asks, what was measured, met (None: not measured)."""
    noop, lat, rss = r["noop_reconcile"], r["webhook_latency_s"], r["peak_rss_mb"]
    writes = r["runs"]["writes"] if isinstance(r["runs"]["writes"], dict) else {}

    def at_most(value: Any, limit: float) -> bool | None:
        return None if _num(value) is None else value <= limit

    def at_least(value: Any, limit: float) -> bool | None:
        return None if _num(value) is None else value >= limit

    noop_met, noop_seen = None, NOT_MEASURED
    if _num(noop["writes"]) is not None and _num(noop["reads"]) is not None:
        noop_met = noop["writes"] == 0 and noop["reads"] <= 1.01 * noop["read_lower_bound"]
        noop_seen = f"{noop['writes']} writes, {noop['reads']} / {noop['read_lower_bound']} reads"
    util = r["write_limit_utilisation"]
    util_met = at_least(util, 0.85)
    if util_met is not None:
        util_met = util_met and writes.get("http_429_unhandled") == 0

    def bound(wanted: str, value: Any, limit: float, *, least: bool) -> dict[str, Any]:
        return {"target": wanted, "measured": value, "met": (at_least if least else at_most)(value, limit)}

    utilisation = util if _num(util) is None else f"{util} ({writes.get('http_429_unhandled')} unhandled 429)"
    floors, burst = r["rate_floor_ratio"], r["burst"]
    burst_seen = NOT_MEASURED
    burst_met = None
    if _num(burst["acknowledged_share"]) is not None:
        burst_met = (
            burst["acknowledged_share"] == 1.0
            and burst["ack_p95_s"] <= 0.05
            and burst["lost"] == 0
            and burst["duplicates"] == 0
            and burst["drain_s"] is not None
            and burst["drain_s"] <= 60
        )
        burst_seen = (
            f"{burst['acknowledged_share']:.0%} acknowledged, ack p95 {burst['ack_p95_s']} s, {burst['lost']} lost, "
            f"{burst['duplicates']} duplicates, "
            + ("not drained in 120 s" if burst["drain_s"] is None else f"drained in {burst['drain_s']} s")
        )
    return {
        "noop_reconcile": {"target": "0 writes, reads <= 1.01 x lower bound", "measured": noop_seen, "met": noop_met},
        "per_deal_ratio": bound(">= 250", r["per_deal_ratio"], 250, least=True),
        "client_cpu_s_noop_50k": bound("<= 3 s", r["client_cpu_s_noop_50k"], 3, least=False),
        "translate_diff_deals_per_s": bound(">= 80000", r["translate_diff_deals_per_s"], 80_000, least=True),
        "peak_rss_mb_50k": bound("<= 110 MiB", rss["client_50k"], 110, least=False),
        "peak_rss_mb_100k": bound("<= 120 MiB", rss["client_100k"], 120, least=False),
        "peak_rss_mb_100k_10k_companies": bound(
            "<= 160 MiB (30,000 overrides)", rss["client_100k_10k_companies"], 160, least=False
        ),
        "write_limit_utilisation": {
            "target": ">= 0.85 of 120/s at 50 ms, 0 unhandled 429",
            "measured": utilisation,
            "met": util_met,
        },
        "webhook_p95_0ms": bound("<= 0.10 s (crmsync serve)", lat["p95_0ms"], 0.10, least=False),
        "webhook_p95_50ms": bound("<= 0.30 s (crmsync serve)", lat["p95_50ms"], 0.30, least=False),
        "webhook_sequential_calls_50ms": bound("<= 5", r["webhook_sequential_calls_50ms"], 5, least=False),
        **{
            f"rate_floor_ratio_{k}": bound("<= 1.10 x floor", floors[k], 1.10, least=False)
            for k in REQUIRED["rate_floor_ratio"]
        },
        "burst_2000_webhooks": {
            "target": "100% acknowledged, ack p95 <= 0.05 s, 0 lost, 0 duplicates, drained <= 60 s",
            "measured": burst_seen,
            "met": burst_met,
        },
    }


def missing_keys(results: dict[str, Any]) -> list[str]:
    """Required keys (and sub-keys) absent from `results`."""
    missing = [k for k in REQUIRED if k not in results]
    missing += [f"{k}.{s}" for k, subs in REQUIRED.items() if k in results for s in subs if s not in results[k]]
    return missing


def write(results: dict[str, Any], path: Path) -> None:
    """Write results.json; refuses results that lack a required key."""
    missing = missing_keys(results)
    if missing:
        raise ValueError(f"results lack {', '.join(missing)}")
    path.write_text(json.dumps(results, indent=2) + "\n")
