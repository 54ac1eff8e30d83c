"""One benchmark size, measured in a fresh client process (so CPU and peak RSS are this size's alone)
against a sandbox child (bench/child.py): a HubSpot read, a cold reconcile, a no-op reconcile, the
per-deal resync (optional) and a reconcile after 1 % of the deals changed.
"""

from __future__ import annotations

import multiprocessing
import random
import resource
import tempfile
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from bench.child import client_env, serve
from bench.results import run_figures

T = TypeVar("T")


def in_fresh_process(target: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """`target(*args)` in a new interpreter (spawn), its result sent back; its failure raised here."""
    mp = multiprocessing.get_context("spawn")
    parent, child = mp.Pipe()
    proc = mp.Process(target=_call, args=(target, args, child))  # not a daemon: it starts the sandbox child
    proc.start()
    try:
        answer: dict[str, Any] = parent.recv()
    except EOFError:
        answer = {"error": f"the client process died (exit code {proc.join(5) or proc.exitcode})"}
    proc.join(timeout=60)
    if "error" in answer:
        raise RuntimeError(answer["error"])
    result: dict[str, Any] = answer["result"]
    return result


def _call(target: Callable[..., dict[str, Any]], args: tuple[Any, ...], conn: Connection) -> None:
    try:
        conn.send({"result": target(*args)})
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises it
        conn.send({"error": traceback.format_exc()})


def measure(action: Callable[[], T]) -> tuple[T, dict[str, float]]:
    """Run once: the result, wall and client CPU seconds, client peak RSS so far (MiB)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    figures = {
        "wall_s": round(time.perf_counter() - wall, 2),
        "client_cpu_s": round(time.process_time() - cpu, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    return result, figures


def measure_size(deals: int, companies: int, per_deal: int | None, change: float, seed: int) -> dict[str, Any]:
    """Every run at one size (in the calling process, which should be fresh: see `in_fresh_process`).
    `per_deal`: None skips the per-deal resync, 0 does it for every deal, n for a random sample of n."""

    from crmsync.app import open_context
    from crmsync.connectors.base import DealQuery
    from crmsync.connectors.hubspot import HubSpotConnector, HubSpotSettings
    from crmsync.domain import Trigger
    from crmsync.mapping.loader import load_mappings
    from crmsync.mapping.rules import DealFilter
    from crmsync.service.reconcile import Mode, Request, reconcile
    from crmsync.settings import load_settings

    mp = multiprocessing.get_context("spawn")
    parent, child = mp.Pipe()
    proc = mp.Process(target=serve, args=(deals, companies, child), daemon=True)
    proc.start()
    info = parent.recv()

    def ask(command: Any) -> dict[str, Any]:
        parent.send(command)
        answer: dict[str, Any] = parent.recv()
        return answer

    runs: dict[str, dict[str, Any]] = {}
    size: dict[str, Any] = {"deals": deals, "companies": companies, "runs": runs}
    try:
        connector = HubSpotConnector(HubSpotSettings(info["hubspot_url"], info["token"], searches_per_second=0))
        query = DealQuery((DealFilter(stages=("closedwon",)),), ("seats_purchased", "sso_addon", "api_call_limit"))
        ask("mark")
        read, figures = measure(lambda: connector.read_deals(query))
        pairs = [(d.id, d.company_ref) for d in read.deals if d.company_ref]
        read_calls = ask("since")["calls"]
        runs["HubSpot read"] = {
            **figures,
            "deals": len(read.deals),
            "calls": read_calls,
            "reads": sum(read_calls.values()),
        }
        del read
        with tempfile.TemporaryDirectory() as tmp:
            settings = load_settings(client_env(info["env"], tmp)).unpaced()
            maps = load_mappings(settings.mappings)
            with open_context(settings, maps) as ctx:

                def reconciled(label: str, expected: dict[str, Any] | None = None) -> None:
                    overrides = ask("mark")["overrides"]
                    outcome, figures = measure(lambda: reconcile(ctx, maps, Request(Trigger.MANUAL, Mode.APPLY)))
                    seen = ask("since")
                    failed = len(outcome.report.failed) if outcome.report else 0
                    runs[label] = run_figures(
                        seen["calls"],
                        figures,
                        deals=deals,
                        companies=companies,
                        overrides=overrides,
                        companies_written=seen["companies_written"],
                        failed=failed,
                        expected=expected,
                        refused=seen["refused"],
                    )

                reconciled("cold reconcile")
                reconciled("no-op reconcile")
                size["overrides"] = ask("since")["overrides"]
                if per_deal is not None:
                    size["per_deal"] = per_deal_resync(ctx.schematic, pairs, per_deal, seed, ask)
                    size["per_deal"]["hubspot_read_calls"] = runs["HubSpot read"]["reads"]
                changed = ask(("change", change, seed))
                reconciled(f"{change:.0%} changed", expected=changed)
                runs[f"{change:.0%} changed"]["verified"] = ask("verify")
    finally:
        parent.send("stop")
        proc.join(timeout=30)
    return size


def per_deal_resync(
    schematic: Any, pairs: list[tuple[str, str]], sample: int, seed: int, ask: Callable[[Any], dict[str, Any]]
) -> dict[str, Any]:
    """The no-op resync done deal by deal through crmsync's Schematic client: for each deal, look its
    company up by key and list that company's overrides (two real calls, counted by the emulator).
    `sample` 0: every deal; n: a seeded random sample of n deals."""
    chosen = pairs if not sample or sample >= len(pairs) else random.Random(seed).sample(pairs, sample)
    missing = 0

    def resync() -> None:
        nonlocal missing
        for _deal, company_ref in chosen:
            company = schematic.lookup_company({"hubspot_company_id": company_ref})
            if company is None:
                missing += 1
                continue
            if not schematic.list_overrides([company.id]):
                missing += 1

    ask("mark")
    _, figures = measure(resync)
    calls = ask("since")["calls"]
    return {
        **figures,
        "deals": len(pairs),
        "deals_resynced": len(chosen),
        "calls": calls,
        "schematic_calls": sum(calls.values()),
        "without_company_or_overrides": missing,
        "method": "every deal"
        if len(chosen) == len(pairs)
        else f"a seeded random sample of {len(chosen)} of {len(pairs)} deals; calls extrapolated linearly",
    }
