"""The mass-change guard over a window, under serve: a mapping rule removed and hot-swapped, then deals
closing one company at a time, deletes no more than one full run would be allowed to (was 29 of 30)."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from crmsync.app import mapped_context
from crmsync.cli.demo import sample_mappings
from crmsync.domain import CompanyId, LedgerState, RunStatus, Trigger
from crmsync.mapping.loader import load_mappings
from crmsync.mapping.rules import Mappings
from crmsync.reconcile.guards import judge
from crmsync.reconcile.notices import WarningKind
from crmsync.sandbox import Sandbox
from crmsync.sandbox.serve import serve_app
from crmsync.service.context import Context
from crmsync.service.guard_window import judge_reload
from crmsync.service.reconcile import Outcome
from crmsync.serving.mapping_watch import LiveMappings
from crmsync.serving.resolve import Resolver
from crmsync.serving.runs import reconcile_scope
from crmsync.serving.worker import IntakeWorker, ReconcileScope, WorkerSettings
from crmsync.settings import load_settings
from crmsync.store.intake import IntakeStore
from crmsync.store.repository import Store
from crmsync.web.app import make_app
from crmsync.web.config import WebSettings
from crmsync.web.webhooks import Ingress
from tests.e2e.conftest import crmsync_env, fast
from tests.serve.conftest import HUBSPOT_SECRET
from tests.serve.signing import hubspot_headers

COMPANIES = 30


@dataclass
class Served:
    """serve's parts on the sandbox, with the mappings in force swappable (a hot reload)."""

    sb: Sandbox
    url: str
    client: httpx.Client
    worker: IntakeWorker
    store: Store
    mappings: list[Mappings]
    scope: ReconcileScope
    outcomes: list[Outcome]
    ctx: Context

    def drain(self) -> None:
        """Worker passes until one finds nothing to do."""
        for _ in range(20):
            if not self.worker.run_once():
                return
        raise AssertionError("the worker still had work")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """HubSpot's sample mapping, 30 more companies with one won seats deal each, all applied."""
    folder = tmp_path / "mappings"
    folder.mkdir()
    shutil.copy(sample_mappings() / "hubspot.yaml", folder / "hubspot.yaml")
    with Sandbox() as sb:
        for n in range(COMPANIES):
            ref = str(7001 + n)
            sb.hubspot.add_company(ref, f"Company {ref}")
            sb.schematic.add_company(f"Company {ref}", {"hubspot_company_id": ref})
            won = {"dealname": f"{ref} won", "pipeline": "default", "dealstage": "closedwon",
                   "closedate": "2026-05-01T12:00:00Z", "seats_purchased": "10"}  # fmt: skip
            sb.hubspot.add_deal(f"8{ref}", properties=won, company_ids=[ref])
            sb.hubspot.add_deal(f"9{ref}", properties=won | {"dealstage": "appointmentscheduled"}, company_ids=[ref])
        settings = fast(load_settings(crmsync_env(sb, f"sqlite:///{tmp_path}/state.db", folder)))
        with mapped_context(folder, settings) as (ctx, maps):
            intake = IntakeStore(ctx.store.engine)
            current = [maps]
            real = reconcile_scope(ctx, lambda: current[0])
            outcomes: list[Outcome] = []

            def scope(companies: frozenset[CompanyId] | None, trigger: Trigger) -> Outcome:
                outcomes.append(real(companies, trigger))
                return outcomes[-1]

            resolver = Resolver(ctx.connectors, ctx.schematic, intake, lambda: current[0])
            worker = IntakeWorker(intake, resolver, scope, WorkerSettings(poll=0.05))
            app = make_app(Ingress(intake, WebSettings(hubspot_client_secret=HUBSPOT_SECRET), wake=worker.wake))
            with serve_app(app) as server, httpx.Client(base_url=server.url, timeout=10) as client:
                assert scope(None, Trigger.SCHEDULE).ok  # everything applied before the reload
                yield Served(sb, server.url, client, worker, ctx.store, current, scope, outcomes, ctx)


def close_deal(served: Served, deal: str, stage: str = "closedwon") -> None:
    """The deal closes (won, or `stage`) in HubSpot and HubSpot's signed webhook says so; serve handles it."""
    served.sb.hubspot.update_deal(deal, dealstage=stage)
    event = {"eventId": int(deal), "subscriptionId": 1, "portalId": 62515, "occurredAt": int(time.time() * 1000),
             "subscriptionType": "deal.propertyChange", "attemptNumber": 0, "objectId": int(deal),
             "propertyName": "dealstage", "propertyValue": stage}  # fmt: skip
    body = json.dumps([event]).encode()
    headers = hubspot_headers(HUBSPOT_SECRET, served.url + "/webhooks/hubspot", body)
    assert served.client.post("/webhooks/hubspot", content=body, headers=headers).status_code == 200
    served.drain()


def seats_overrides(served: Served) -> int:
    """The new companies' seats overrides left in Schematic."""
    mine = {c["id"] for c in served.sb.schematic.companies.values() if c["name"].startswith("Company 7")}
    return sum(1 for o in served.sb.schematic.overrides.values()
               if o["company_id"] in mine and o["feature_id"] == "feat_seats")  # fmt: skip


def without_seats(source: Path, target: Path) -> Path:
    """`target` (made if missing) holding `source`'s HubSpot mapping without its seats rule."""
    target.mkdir(exist_ok=True)
    text = (source / "hubspot.yaml").read_text()
    start = text.index("  - feature: seats")
    (target / "hubspot.yaml").write_text(text[:start] + text[text.index("  - feature: SSO") :])
    return target


def allowed_deletes(owned: int) -> int:
    """The most deletes one full run may make among `owned` overrides under the default guard."""
    settings = load_settings({})
    return max(k for k in range(owned + 1) if not judge(k, owned, settings.guards))


def test_a_removed_rule_then_deals_closing_one_by_one_deletes_no_more_than_the_guard_allows(
    served: Served, tmp_path: Path
) -> None:
    """28 one-company runs after the seats rule is removed: at most the guard's share is deleted, the rest
    withheld (a GUARD_WINDOW warning on each held run), and the runs are not failures."""
    owned = sum(1 for o in served.store.owned() if o.status == LedgerState.ACTIVE)
    assert seats_overrides(served) == COMPANIES and owned > COMPANIES
    edited = tmp_path / "edited"
    edited.mkdir()
    text = (tmp_path / "mappings" / "hubspot.yaml").read_text()
    start = text.index("  - feature: seats")
    (edited / "hubspot.yaml").write_text(text[:start] + text[text.index("  - feature: SSO") :])
    served.mappings[0] = load_mappings(edited)  # the hot reload of a rule removed

    for n in range(28):
        close_deal(served, f"9{7001 + n}")

    deleted = COMPANIES - seats_overrides(served)
    assert deleted == allowed_deletes(owned), (deleted, owned)  # was 28 (29 of 30 with the resync)
    runs = served.outcomes[1:]
    assert len(runs) == 28 and all(r.status is RunStatus.OK for r in runs)  # held, not failing
    held = [r for r in runs if r.run and any(w.kind is WarningKind.GUARD_WINDOW for w in r.run.plan.warnings)]
    assert len(held) == 28 - deleted


def test_the_window_spans_full_and_scoped_runs(served: Served) -> None:
    """A full run's deletes count in the window a later one-company run is judged in."""
    owned = sum(1 for o in served.store.owned() if o.status == LedgerState.ACTIVE)
    budget = allowed_deletes(owned)
    for n in range(budget):  # lost deals: the full run deletes exactly the budget (allowed alone)
        served.sb.hubspot.update_deal(f"8{7001 + n}", dealstage="closedlost")
    assert served.scope(None, Trigger.SCHEDULE).ok
    assert seats_overrides(served) == COMPANIES - budget
    close_deal(served, f"8{7001 + budget}", "closedlost")  # one more company, alone: past the window's budget
    assert seats_overrides(served) == COMPANIES - budget
    last = served.outcomes[-1].run
    assert last is not None and any(w.kind is WarningKind.GUARD_WINDOW for w in last.plan.warnings)


def test_a_reload_that_would_delete_too_much_is_held_until_approved(served: Served, tmp_path: Path) -> None:
    """The seats rule removed from the watched folder: the reload is held (old mappings stay in force, the
    reason kept for the alert), deals closing one by one delete nothing, and approval puts it in force."""
    folder = tmp_path / "mappings"
    live = LiveMappings(folder, interval=0, vet=lambda maps: judge_reload(served.ctx, maps))
    before = live()
    without_seats(folder, folder)  # the edit, in place
    assert live() is before
    assert live.held is not None and "would be deleted or downgraded" in live.held.reason
    served.mappings[0] = live()
    for n in range(28):
        close_deal(served, f"9{7001 + n}")
        served.mappings[0] = live()
    assert seats_overrides(served) == COMPANIES  # nothing deleted while the reload waits
    assert live.approve() and live.held is None
    assert not any(r.feature == "seats" for f in live().files for r in f.overrides)
