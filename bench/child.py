"""The sandbox child of a benchmark: seeds and serves the emulators in their own process, so the
client process measures crmsync alone, and answers commands over a pipe.

Commands: `("limits", searches/s, calls per 10 s, writes/s, write burst)` (enforce the vendors'
published rate limits from now on), `"mark"` (remember how many requests each emulator has
received and start watching the override writes; answers the overrides), `"since"` (the calls per
endpoint made since the mark, and the Schematic companies written to), `("change", fraction, seed)`
(re-price that fraction of the won deals, as a sales rep would), `("pick", n, seed)` (choose n won
deals and the seats each will get, without changing them), `("edit", picked, t0, seconds)` (re-price
the picked deals one by one from `t0`, epoch seconds, spread evenly over `seconds`, in a thread,
counting those done in the `progress` value the child was started with: bench/burst.py posts each
deal's webhook once its edit is done), `"verify"` (whether the Schematic seat
overrides of the re-priced or picked companies hold the new values), `"writes"` (the override writes
seen since the mark: redundant ones, extra overrides, writes to companies not re-priced) and `"stop"`.
"""

from __future__ import annotations

import multiprocessing
import random
import re
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

_ID = re.compile(r"/(comp|cmov|feat)_[A-Za-z0-9]+|/\d+(?=/|$)")
BY_COMPANY = "?company_ids"  # suffix of a Schematic override list filtered by company (not a full read)
# The emulator at 100k deals on a shared machine can answer slower than a real CRM: generous deadlines,
# so a slow answer is waited for (the benchmarks measure crmsync, not the emulator's speed).
PATIENT = "[hubspot]\ndeadline = 300.0\n\n[schematic]\ntimeout = 120.0\ndeadline = 300.0\n"
NEW_SEATS = 100_000  # re-priced deals get NEW_SEATS + n seats: above every seeded value, so the max changes


def endpoint(service: str, method: str, path: str, query: dict[str, list[str]]) -> str:
    """The name a call is counted under: service, method and path with ids replaced by `{id}`; a
    company-filtered override list is counted apart from the full one (see `BY_COMPANY`)."""
    name = f"{service} {method} {_ID.sub('/{id}', path)}"
    return name + BY_COMPANY if path == "/company-overrides" and method == "GET" and "company_ids" in query else name


def client_env(sandbox_env: dict[str, str], folder: str) -> dict[str, str]:
    """A client's environment: the sandbox's, the benchmark mapping in `folder`/maps, state in `folder`."""
    from tests.benchmarks.reconcile import MAPPING

    (Path(folder) / "maps").mkdir(exist_ok=True)
    (Path(folder) / "maps" / "hubspot.yaml").write_text(MAPPING)
    return {**sandbox_env, "CRMSYNC_DATABASE_URL": f"sqlite:///{folder}/state.db", "CRMSYNC_MAPPINGS": f"{folder}/maps"}


@contextmanager
def patient_sandbox(deals: int, companies: int) -> Iterator[tuple[Connection, dict[str, str]]]:
    """A sandbox child serving `deals` won deals over `companies` companies, and a client environment
    for it (state and mappings in a temporary folder, the PATIENT config); stopped when the block ends."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    sandbox = ctx.Process(target=serve, args=(deals, companies, child), daemon=True)
    sandbox.start()
    try:
        sandbox_env: dict[str, str] = parent.recv()["env"]
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "crmsync.toml").write_text(PATIENT)
            yield parent, {**client_env(sandbox_env, tmp), "CRMSYNC_CONFIG": f"{tmp}/crmsync.toml"}
    finally:
        parent.send("stop")
        sandbox.join(timeout=30)


def serve(deals: int, companies: int, conn: Connection, progress: Any = None, dated: bool = False) -> None:
    """The child process: seed, serve, answer commands until `stop` (`progress`: a shared integer, the
    deals `edit` has changed so far; `dated`: the deals last modified before today, a minute apart)."""
    from tests.benchmarks.reconcile import data

    from crmsync.sandbox import Sandbox

    history = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) if dated else None
    with Sandbox(data(deals, companies, history)) as sb:
        states = {"hubspot": sb.hubspot, "schematic": sb.schematic}
        conn.send(
            {
                "env": sb.env(),
                "hubspot_url": sb.hubspot_url,
                "token": sb.hubspot.access_token,
                "overrides": len(sb.schematic.override_records()),
            }
        )
        mark = {name: 0 for name in states}
        changed: dict[str, int] = {}  # Schematic company id → the seats its re-priced deals now give
        watch = WriteWatch()
        sb.schematic.listeners.append(watch.seen)
        while True:
            command = conn.recv()
            if command == "stop":
                return
            if command == "mark":
                mark = {name: len(state.requests) for name, state in states.items()}
                with sb.schematic.lock:
                    watch.start(sb.schematic.override_records())
                    conn.send({"requests": mark, "overrides": len(sb.schematic.override_records())})
            elif command == "writes":
                with sb.schematic.lock:
                    conn.send(watch.report(set(changed), sb.schematic.override_records()))
            elif isinstance(command, tuple) and command[0] == "edit":
                _, picked, t0, seconds = command
                threading.Thread(target=_edit, args=(sb, picked, t0, seconds, progress), daemon=True).start()
                conn.send({"editing": len(picked)})
            elif isinstance(command, tuple) and command[0] == "pick":
                picked, changed = _pick(sb, command[1], command[2])
                conn.send({"deals": picked, "companies": len(changed)})
            elif command == "since":
                conn.send(_since(sb, states, mark))
            elif isinstance(command, tuple) and command[0] == "limits":  # the vendors' published limits
                _, searches, calls_per_10s, writes, burst = command
                sb.hubspot.publish_limits(searches, calls_per_10s)
                sb.schematic.limit_writes(writes, burst)
                conn.send({"limits": list(command[1:])})
            elif isinstance(command, tuple) and command[0] == "change":
                deals_changed, changed = _change(sb, command[1], command[2])
                conn.send({"deals": deals_changed, "companies": len(changed)})
            elif command == "verify":
                with sb.schematic.lock:
                    wrong = [
                        c
                        for c, seats in changed.items()
                        if not any(
                            r["feature_id"] == "feat_seats" and r.get("value_numeric") == seats
                            for r in sb.schematic.override_records_of({c})
                        )
                    ]
                conn.send({"companies": len(changed), "wrong": len(wrong)})
            else:
                conn.send({"error": f"unknown command {command!r}"})


def _since(sb: Any, states: dict[str, Any], mark: dict[str, int]) -> dict[str, Any]:
    calls: Counter[str] = Counter()
    refused: Counter[str] = Counter()  # answered with an error (a 429 retried is two calls, one refused)
    written: set[str] = set()
    for name, state in states.items():
        with state.lock:
            recent = state.requests[mark[name] :]
        calls.update(endpoint(name, r.method, r.path, r.query) for r in recent)
        refused.update(f"{endpoint(name, r.method, r.path, r.query)} {r.status}" for r in recent if r.status >= 400)
        if name != "schematic":
            continue
        with state.lock:
            for r in recent:
                if r.status >= 400:
                    continue
                if r.method == "POST" and r.path == "/company-overrides" and isinstance(r.json, dict):
                    written.add(str(r.json.get("company_id")))
                elif r.method in ("PUT", "DELETE") and r.path.startswith("/company-overrides/"):
                    record = state.override_record(r.path.rsplit("/", 1)[1])
                    written.add(record["company_id"] if record else r.path)
    with sb.schematic.lock:
        overrides = len(sb.schematic.override_records())
    return {
        "calls": dict(sorted(calls.items())),
        "refused": dict(sorted(refused.items())),
        "companies_written": len(written),
        "overrides": overrides,
    }


def _change(sb: Any, fraction: float, seed: int) -> tuple[int, dict[str, int]]:
    """Re-price `fraction` of the won deals (a seeded random choice) to unique seat counts above every
    other; returns how many, and per Schematic company of those deals the seats its override must hold."""
    with sb.hubspot.lock:
        won = sum(1 for d in sb.hubspot.deals.values() if d.properties.get("dealstage") == "closedwon")
    picked, changed = _pick(sb, max(1, round(won * fraction)), seed)
    for deal_id, seats in picked:
        sb.hubspot.update_deal(deal_id, seats_purchased=str(seats))
    return len(picked), changed


def _pick(sb: Any, n: int, seed: int) -> tuple[list[tuple[str, int]], dict[str, int]]:
    """`n` won deals (a seeded random choice), each with a unique seat count above every other
    (NEW_SEATS + its rank), and per Schematic company of those deals the seats its override must hold
    once every one is changed (the mapping combines by max)."""
    hubspot, schematic = sb.hubspot, sb.schematic
    with hubspot.lock:
        won = sorted((d for d in hubspot.deals if hubspot.deals[d].properties.get("dealstage") == "closedwon"), key=int)
        chosen = random.Random(seed).sample(won, n)
        companies = {deal_id: list(hubspot.deals[deal_id].company_ids) for deal_id in chosen}
    picked = [(deal_id, NEW_SEATS + rank) for rank, deal_id in enumerate(chosen)]
    changed: dict[str, int] = {}
    for deal_id, seats in picked:
        for company in companies[deal_id]:
            record = schematic.company_with_key("hubspot_company_id", company)
            if record is not None:
                changed[record["id"]] = max(seats, changed.get(record["id"], 0))
    return picked, changed


def _edit(sb: Any, picked: list[tuple[str, int]], t0: float, seconds: float, progress: Any) -> None:
    """Re-price each picked deal at its slot, as a sales rep's edit would, and count it done."""
    for n, (deal_id, seats) in enumerate(picked):
        time.sleep(max(0.0, t0 + n * seconds / len(picked) - time.time()))
        sb.hubspot.update_deal(deal_id, seats_purchased=str(seats))
        progress.value = n + 1


VALUE = ("value_type", "value_bool", "value_numeric", "value_trait_id", "metric_period",
         "metric_period_month_reset", "expiration_date")  # fmt: skip


class WriteWatch:
    """The Schematic override changes since `start`, told by the emulator as they happen: a write that
    left the value as it was is redundant; so is a second override of one company and feature."""

    def __init__(self) -> None:
        self.values: dict[str, tuple[Any, ...]] = {}  # override id → its value now
        self.redundant = 0
        self.companies: Counter[str] = Counter()  # company id → its writes since the start
        self.on = False

    def start(self, records: list[dict[str, Any]]) -> None:
        self.values = {r["id"]: tuple(r.get(k) for k in VALUE) for r in records}
        self.redundant, self.companies, self.on = 0, Counter(), True

    def seen(self, action: str, record: dict[str, Any]) -> None:
        if not self.on:
            return
        value = tuple(record.get(k) for k in VALUE)
        self.redundant += action.endswith("updated") and self.values.get(record["id"]) == value
        self.values[record["id"]] = value
        self.companies[record["company_id"]] += 1

    def report(self, changed: set[str], records: list[dict[str, Any]]) -> dict[str, Any]:
        per_feature = Counter((r["company_id"], r["feature_id"]) for r in records if r["company_id"] in changed)
        return {
            "writes": sum(self.companies.values()),
            "redundant": self.redundant,
            "extra_overrides": sum(n - 1 for n in per_feature.values() if n > 1),
            "unexpected_companies": sorted(set(self.companies) - changed)[:20],
            "unexpected_writes": sum(n for c, n in self.companies.items() if c not in changed),
        }
