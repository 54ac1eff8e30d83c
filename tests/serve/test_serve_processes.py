"""`crmsync serve` as real processes: polling alone (no webhook at all) follows a deal close, and two
replicas on one PostgreSQL database share 200 signed webhooks with no duplicate override and each
periodic job run once per interval."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from crmsync.cli.demo import sample_mappings
from crmsync.sandbox import Sandbox
from tests.databases import new_postgres_database
from tests.e2e.conftest import crmsync_env
from tests.serve.signing import hubspot_headers
from tests.serve.test_serve_command import free_port, start, stop, wait_for

SECRET = "hs-secret-for-replicas"
COMPANIES = 40
WEBHOOKS = 200


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new PostgreSQL database for this test, dropped afterwards."""
    with new_postgres_database("crmsync_serve") as url:
        yield url


def seats(sb: Sandbox, company: str) -> list[object]:
    return [o["value_numeric"] for o in sb.schematic.overrides.values()
            if o["company_id"] == company and o["feature_id"] == "feat_seats"]  # fmt: skip


def test_polling_alone_follows_a_deal_close(sandbox: Sandbox, tmp_path: Path) -> None:
    """No webhook subscription at all: a deal closed after start reaches Schematic through the 1 s poll."""
    port = free_port()
    env = crmsync_env(sandbox, f"sqlite:///{tmp_path}/state.db", sample_mappings())
    process = start(env, port, "--poll-interval", "1")
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: httpx.get(f"{url}/readyz").status_code == 200)
        wait_for(lambda: seats(sandbox, "comp_acme"))  # the start-up reconcile ran
        assert 300 not in seats(sandbox, "comp_hooli")
        sandbox.hubspot.update_deal("1023", dealstage="closedwon", seats_purchased="300")
        wait_for(lambda: seats(sandbox, "comp_hooli") == [300], timeout=60)
    finally:
        err = stop(process)
    assert "Traceback" not in err


@pytest.mark.slow
def test_two_replicas_on_postgresql_share_200_webhooks_without_a_duplicate(
    sandbox: Sandbox, tmp_path: Path, postgres_url: str
) -> None:
    """200 signed deal webhooks spread over two serve processes: every company ends with exactly the
    deals' value, no pair has two overrides, and each (job, slot) ran on one replica only."""
    refs = []
    companies: dict[str, str] = {}
    for n in range(COMPANIES):
        ref = str(7001 + n)
        sandbox.hubspot.add_company(ref, f"Replica {ref}")
        companies[ref] = sandbox.schematic.add_company(f"Replica {ref}", {"hubspot_company_id": ref})
        props = {"dealname": f"{ref} seats", "pipeline": "default", "dealstage": "closedlost",
                 "closedate": "2026-05-01T12:00:00Z", "seats_purchased": "1"}  # fmt: skip
        refs.append((ref, sandbox.hubspot.add_deal(properties=props, company_ids=[ref])))
    env = crmsync_env(sandbox, postgres_url, sample_mappings()) | {"HUBSPOT_CLIENT_SECRET": SECRET}
    ports = [free_port(), free_port()]
    launched = time.monotonic()
    replicas = [start(env, port, "--poll-interval", "2") for port in ports]
    try:
        for port in ports:
            wait_for(lambda port=port: httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200)
        started = time.monotonic()
        want: dict[str, int] = {}
        for n in range(WEBHOOKS):
            ref, deal = refs[n % COMPANIES]
            value = 10 + n
            sandbox.hubspot.update_deal(deal, dealstage="closedwon", seats_purchased=str(value))
            want[ref] = value
            port = ports[n % 2]
            url = f"http://127.0.0.1:{port}/webhooks/hubspot"
            body = json.dumps([{"eventId": n, "subscriptionId": 7, "portalId": 62515, "occurredAt": n + 1,
                                "objectId": int(deal), "subscriptionType": "deal.propertyChange",
                                "propertyName": "seats_purchased", "attemptNumber": 0}]).encode()  # fmt: skip
            answer = httpx.post(url, content=body, headers=hubspot_headers(SECRET, url, body), timeout=30)
            assert answer.status_code == 200, answer.text

        def done() -> bool:
            return all(seats(sandbox, companies[ref]) == [v] for ref, v in want.items())

        try:
            wait_for(done, timeout=180)
        except AssertionError:
            lag = {ref: (seats(sandbox, companies[ref]), v) for ref, v in want.items()
                   if seats(sandbox, companies[ref]) != [v]}  # fmt: skip
            raise AssertionError(f"{len(lag)} companies behind: {dict(list(lag.items())[:5])}") from None
        elapsed = time.monotonic() - started
    finally:
        errors = [stop(p) for p in replicas]
    lifetime = time.monotonic() - launched  # the slots span start-up and shutdown too, not only `elapsed`
    pairs = Counter((o["company_id"], o["feature_id"]) for o in sandbox.schematic.overrides.values())
    assert [p for p, n in pairs.items() if n > 1] == []
    for log in errors:  # no failure of crmsync's own work (a server shutting down may log a dropped request)
        at = log.find("Traceback")
        trace = log[max(0, at - 1500) : at + 3000] if at >= 0 else ""
        assert "crmsync/service" not in trace and "crmsync/store" not in trace, trace
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            slots = conn.execute(text("select job_name, slot_start, runner from schedule_slots")).all()
            runs = conn.execute(text("select count(*) from runs where command = 'apply'")).scalar_one()
    finally:
        engine.dispose()
    per_slot = Counter((job, start_at) for job, start_at, _ in slots)
    assert max(per_slot.values()) == 1  # once per interval across both replicas
    polls = sum(1 for job, _, _ in slots if job == "poll")
    assert polls <= lifetime / 2 + 2  # one poll per 2 s slot over the replicas' lives, not one per replica
    print(f"\n2 replicas: {WEBHOOKS} webhooks, {len(want)} companies, {runs} apply runs, {polls} poll slots "
          f"in {elapsed:.1f} s, 0 duplicates")  # fmt: skip
