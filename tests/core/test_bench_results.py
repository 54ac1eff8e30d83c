"""The benchmark's results.json writer and README block, from a small fake result set (pure logic:
no sandbox, no timing; the only I/O is one file in tmp_path)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from bench import readme
from bench.results import (
    NOT_MEASURED,
    REQUIRED,
    assemble,
    missing_keys,
    parse_latency,
    parse_sequential,
    run_figures,
    write,
)

FIGURES = {"wall_s": 1.5, "client_cpu_s": 1.25, "peak_rss_mb": 120.0}
# 50,000 deals over 2,000 companies, 3 overrides each: calls as the emulators count them
PLAN_READS = {
    "hubspot POST /crm/v3/objects/deals/search": 250,
    "hubspot POST /crm/v4/associations/deals/companies/batch/read": 50,
    "schematic GET /companies": 9,
    "schematic GET /features": 1,
}
COLD = {**PLAN_READS, "schematic GET /company-overrides": 1, "schematic GET /company-overrides?company_ids": 40,
        "schematic POST /company-overrides": 6000}  # fmt: skip
NOOP = {**PLAN_READS, "schematic GET /company-overrides": 25}
CHANGED = {**NOOP, "schematic GET /company-overrides?company_ids": 9, "schematic PUT /company-overrides/{id}": 445}

# 5 PUTs answered 429 under the write limit (then retried), one company page too: writes are the others
REFUSED = {"schematic PUT /company-overrides/{id} 429": 5, "schematic GET /companies 429": 1}


def fake_size() -> dict[str, Any]:
    size = {"deals": 50_000, "companies": 2_000, "overrides": 6_000}
    common = {"deals": 50_000, "companies": 2_000, "failed": 0}
    runs = {
        "HubSpot read": {**FIGURES, "deals": 50_000, "calls": dict(list(PLAN_READS.items())[:2]), "reads": 300},
        "cold reconcile": run_figures(COLD, FIGURES, overrides=0, companies_written=2_000, **common),
        "no-op reconcile": run_figures(NOOP, FIGURES, overrides=6_000, companies_written=0, **common),
        "1% changed": run_figures(CHANGED, FIGURES, overrides=6_000, companies_written=440, **common,
                                  expected={"deals": 500, "companies": 440}, refused=REFUSED),
    }  # fmt: skip
    runs["1% changed"]["verified"] = {"companies": 440, "wrong": 0}
    per_deal = {**FIGURES, "deals": 50_000, "deals_resynced": 5_000, "schematic_calls": 10_000,
                "hubspot_read_calls": 300, "method": "a seeded random sample of 5000 of 50000 deals"}  # fmt: skip
    return {**size, "runs": runs, "per_deal": per_deal}


PARTS = {
    "webhook": {"webhooks": 100, "p50_0ms": 0.05, "p95_0ms": 0.08, "p50_50ms": 0.2, "p95_50ms": 0.35,
                "sequential_calls_50ms": 4},
    "writes": {"writes": 1200, "wall_s": 11.0, "writes_per_s": 109.1, "limit_per_s": 120, "utilisation": 0.909,
               "http_429_seen": 3, "http_429_unhandled": 0, "failed": 0, "in_flight": 8},
    "memory": {"50k": {"deals": 50_000, "companies": 2_000, "peak_rss_mb": 140.0, "baseline_rss_mb": 60.0,
                       "client_cpu_s": 5.0, "wall_s": 9.0},
               "100k": {"deals": 100_000, "companies": 4_000, "peak_rss_mb": 260.0, "baseline_rss_mb": 60.0,
                        "client_cpu_s": 10.0, "wall_s": 18.0},
               "100k_10k": {"deals": 100_000, "companies": 10_000, "peak_rss_mb": 150.0, "baseline_rss_mb": 60.0,
                            "client_cpu_s": 12.0, "wall_s": 20.0}},
    "core": {"deals": 50_000, "seconds": 0.5, "deals_per_s": 100_000.0},
    "rates": {"deals": 50_000, "companies": 2_000,
              "limits": {"hubspot_searches_per_s": 5.0, "hubspot_calls_per_10s": 100, "schematic_writes_per_s": 120.0,
                         "schematic_write_burst": 120.0},
              "runs": {"noop_50k": {"wall_s": 52.0, "floor_s": 49.0, "ratio": 1.061},
                       "cold_6000": {"wall_s": 120.0, "floor_s": 98.0, "ratio": 1.224},
                       "change_1pct": {"wall_s": 53.0, "floor_s": 51.7, "ratio": 1.025}}},
    "burst": {"webhooks": 2000, "acknowledged_share": 1.0, "ack_p95_s": 0.03, "lost": 0, "duplicates": 0,
              "drain_s": 41.0},
}  # fmt: skip
META = {"machine": {"platform": "test", "python": "3.11", "cpus": 2}, "date": "2026-12-01T00:00:00+00:00",
        "command": "python3 -m uv run python -m bench.run", "commit": "0123abc", "dirty": False}  # fmt: skip


def test_reads_are_plan_reads_plus_verification_reads_and_the_ratio_is_of_the_plan_reads() -> None:
    cold = fake_size()["runs"]["cold reconcile"]
    assert (cold["reads"], cold["plan_reads"], cold["verification_reads"]) == (351, 311, 40)
    assert cold["verification_expected"] == 20  # 2,000 companies written in chunks of 100 (leased_apply.CHUNK)
    assert cold["read_lower_bound"] == 310  # 250 + 50 + 8 company pages + 1 (empty) override page + 1 feature page
    assert cold["writes"] == 6000
    changed = fake_size()["runs"]["1% changed"]
    assert (changed["writes"], changed["writes_refused"], changed["writes_match"]) == (440, 5, True)
    assert changed["reads"] == 335 + 9


def test_results_json_holds_every_required_key_and_each_target(tmp_path: Path) -> None:
    """Every key of issue 23's "Done when" is written (commit, dirty, the serve latency and its
    sequential calls, the third memory size, the rate-floor ratios, the burst) and each target judged."""
    path = tmp_path / "results.json"
    write(assemble(META, [fake_size()], PARTS), path)
    results = json.loads(path.read_text())
    assert missing_keys(results) == []
    assert results["noop_reconcile"] == {"writes": 0, "reads": 335, "read_lower_bound": 333, "read_ratio": 1.006}
    assert results["per_deal_calls"] == 300 + 100_000  # the sample's calls extrapolated to every deal
    assert results["per_deal_ratio"] == round(100_300 / 335, 1)
    assert results["client_cpu_s_noop_50k"] == 1.25
    assert results["peak_rss_mb"] == {"client_50k": 140.0, "client_100k": 260.0, "client_100k_10k_companies": 150.0}
    assert results["write_limit_utilisation"] == 0.909
    assert results["translate_diff_deals_per_s"] == 100_000.0
    assert (results["commit"], results["dirty"]) == ("0123abc", False)
    assert results["webhook_sequential_calls_50ms"] == 4
    assert results["rate_floor_ratio"] == {"noop_50k": 1.061, "cold_6000": 1.224, "change_1pct": 1.025}
    assert results["burst"] == {"acknowledged_share": 1.0, "ack_p95_s": 0.03, "lost": 0, "duplicates": 0,
                                "drain_s": 41.0}  # fmt: skip
    met = {name: t["met"] for name, t in results["targets"].items()}
    assert met == {"noop_reconcile": True, "per_deal_ratio": True, "client_cpu_s_noop_50k": True,
                   "translate_diff_deals_per_s": True, "peak_rss_mb_50k": False, "peak_rss_mb_100k": False,
                   "peak_rss_mb_100k_10k_companies": True, "write_limit_utilisation": True,
                   "webhook_p95_0ms": True, "webhook_p95_50ms": False, "webhook_sequential_calls_50ms": True,
                   "rate_floor_ratio_noop_50k": True, "rate_floor_ratio_cold_6000": False,
                   "rate_floor_ratio_change_1pct": True, "burst_2000_webhooks": True}  # fmt: skip


def test_parts_not_measured_are_said_so_and_their_targets_unjudged(tmp_path: Path) -> None:
    results = assemble(META, [], {})
    write(results, tmp_path / "results.json")
    assert results["per_deal_ratio"] == NOT_MEASURED
    assert results["webhook_latency_s"] == dict.fromkeys(("webhooks", *REQUIRED["webhook_latency_s"]), NOT_MEASURED)
    assert results["rate_floor_ratio"] == dict.fromkeys(REQUIRED["rate_floor_ratio"], NOT_MEASURED)
    assert results["burst"] == dict.fromkeys(REQUIRED["burst"], NOT_MEASURED)
    assert {t["met"] for t in results["targets"].values()} == {None}


def test_a_result_lacking_a_required_key_is_refused(tmp_path: Path) -> None:
    results = assemble(META, [fake_size()], PARTS)
    del results["webhook_latency_s"]["p95_50ms"], results["machine"], results["commit"]
    del results["burst"]["drain_s"], results["rate_floor_ratio"]["cold_6000"]
    with pytest.raises(
        ValueError, match=r"machine, commit, webhook_latency_s\.p95_50ms, rate_floor_ratio\.cold_6000, burst\.drain_s"
    ):
        write(results, tmp_path / "results.json")
    assert not (tmp_path / "results.json").exists()


def test_the_readme_block_is_rendered_between_its_markers_only() -> None:
    block = readme.render(assemble(META, [fake_size()], PARTS))
    assert max(len(line) for line in block.splitlines() if not line.startswith("|")) <= 100
    flat = " ".join(block.split())  # prose is wrapped at the README's width
    assert "`python3 -m uv run python -m bench.run`" in flat
    assert "| no-op reconcile " in flat and "335 + 0 / 333 (1.006x)" in flat
    assert "311 + 40 / 310 (1.003x)" in flat  # the cold reconcile's verification reads apart
    assert "440 (+5 refused, retried) (expected 440)" in flat and "**299.4x**" in flat
    assert "(100 signed webhooks each" in flat and "p50 0.2 s / p95 0.35 s at 50 ms per call" in flat
    assert "4 sequential API calls" in flat and "at commit `0123abc`" in flat
    assert "| noop_50k | not measured | 49.0 | 52.0 | 1.061 |" in flat and "drained in 41.0 s" in flat
    text = f"# crmsync\n\n### Performance\n\n{readme.BEGIN}\nold figures\n{readme.END}\n\nStart-up: 0.3 s\n"
    rewritten = readme.replace_block(text, block)
    assert "old figures" not in rewritten and block in rewritten
    assert rewritten.startswith("# crmsync\n\n### Performance\n\n") and rewritten.endswith(
        f"{readme.END}\n\nStart-up: 0.3 s\n"
    )
    with pytest.raises(ValueError, match="block"):
        readme.replace_block("### Performance\n", block)


def test_the_sequential_calls_are_read_from_the_serve_latency_output() -> None:
    """The median change's call count is taken from the latency benchmark's `sequential calls` line."""
    output = "p50 602 ms, p95 877 ms, max 1188 ms\nsequential calls 11 (median calls per change, 12.0 …): hubspot …\n"
    assert parse_sequential(output) == 11
    with pytest.raises(ValueError, match="sequential"):
        parse_sequential("p50 1 ms, p95 2 ms")


def test_latency_is_read_from_the_serve_latency_output() -> None:
    output = "100 deal changes pushed …\np50 412 ms, p95 1380 ms, max 2000 ms\n"
    assert parse_latency(output) == (0.412, 1.38)
    with pytest.raises(ValueError, match="p50"):
        parse_latency("Traceback …")


def test_a_burst_not_drained_is_said_so_and_misses_its_target() -> None:
    """A burst whose changes were not all visible at the deadline (`drain_s` None) misses the target
    and says so, in results.json's targets and in the README's burst line."""
    full = {"webhooks": 2000, "seconds": 10.0, "deals": 10_000, "companies": 2_000, "acknowledged_share": 1.0,
            "ack_p50_s": 0.01, "ack_p95_s": 0.03, "lost": 3, "duplicates": 0, "drain_s": None,
            "companies_changed": 1339, "drain_floor_s": 57.0, "writes_per_s": 20.0, "hints": 2000,
            "company_reconciles": 1500, "runs": 40, "rss_idle_mb": 116.0, "peak_rss_mb": 130.0}  # fmt: skip
    results = assemble(META, [fake_size()], {**PARTS, "burst": full})
    burst = results["targets"]["burst_2000_webhooks"]
    assert burst["met"] is False
    assert "3 lost" in burst["measured"] and "not drained in 120 s" in burst["measured"]
    text = " ".join(readme.render(results).split())
    assert "not drained in 120 s (floor 57.0 s: 1,339 companies changed at 20.0 writes/s)" in text
    assert "2,000 hints → 1,500 company reconciles in 40 runs" in text
