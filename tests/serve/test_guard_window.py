"""The mass-change guard over a window, under serve as `crmsync serve` builds it: a mapping rule removed,
then deals closing one company at a time. The reload is held until approved (nothing deleted); a reload
that gets in force all the same deletes no more than one full run would be allowed to (was 29 of 30)."""

from __future__ import annotations

import gc
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from crmsync.app import build_service
from crmsync.cli.demo import sample_mappings
from crmsync.connectors.salesforce import SalesforceConnector
from crmsync.domain import CompanyId, LedgerState, RunStatus, Source, Trigger
from crmsync.reconcile.guard_window import Spent
from crmsync.reconcile.guards import judge
from crmsync.reconcile.notices import WarningKind
from crmsync.sandbox import Sandbox
from crmsync.sandbox.serve import serve_app
from crmsync.service.reconcile import Mode, Outcome, Request, reconcile
from crmsync.serving.mapping_watch import LiveMappings
from crmsync.serving.runtime import ServeOptions, Service
from crmsync.settings import load_settings
from crmsync.store.guard_window import GuardWindow
from tests.e2e.conftest import crmsync_env, fast
from tests.serve.conftest import HUBSPOT_SECRET
from tests.serve.signing import hubspot_headers

COMPANIES = 30


@dataclass
class Served:
    """The service on the sandbox (worker driven pass by pass), every reconcile's outcome, its mapping folder."""

    sb: Sandbox
    url: str
    client: httpx.Client
    service: Service
    outcomes: list[Outcome]
    folder: Path

    @property
    def live(self) -> LiveMappings:
        """The service's mappings in force (its mapping watch)."""
        assert self.service.mappings is not None
        return self.service.mappings

    def drain(self) -> None:
        """Worker passes until one finds nothing to do."""
        for _ in range(20):
            if not self.service.worker.run_once():
                return
        raise AssertionError("the worker still had work")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """HubSpot's sample mapping in a folder of its own, 30 more companies with one won seats deal each
    (and one open deal), served as `crmsync serve` builds it, everything applied once."""
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
        env = crmsync_env(sb, f"sqlite:///{tmp_path}/state.db", folder) | {"HUBSPOT_CLIENT_SECRET": HUBSPOT_SECRET}
        service = build_service(fast(load_settings(env)), ServeOptions(port=0))
        assert service.mappings is not None
        service.mappings.interval = 0  # look at the folder on every call, not once a second
        outcomes: list[Outcome] = []
        real = service.worker.reconcile

        def recorded(scope: frozenset[CompanyId] | None, trigger: Trigger) -> Outcome:
            outcomes.append(real(scope, trigger))
            return outcomes[-1]

        service.worker.reconcile = recorded
        try:
            with serve_app(service.app, lifespan=False) as server, httpx.Client(base_url=server.url) as client:
                assert recorded(None, Trigger.SCHEDULE).ok  # everything applied before the edit
                yield Served(sb, server.url, client, service, outcomes, folder)
        finally:
            service.resources.close()


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


def remove_seats_rule(folder: Path) -> None:
    """Edit the HubSpot mapping in `folder`: its seats rule removed."""
    path = folder / "hubspot.yaml"
    text = path.read_text()
    path.write_text(text[: text.index("  - feature: seats")] + text[text.index("  - feature: SSO") :])


def owned_now(served: Served) -> int:
    """Active overrides in the ledger."""
    return sum(1 for o in served.service.context.store.owned() if o.status == LedgerState.ACTIVE)


def held_by_window(outcome: Outcome) -> bool:
    """True when the window guard withheld something of this run."""
    return outcome.run is not None and any(w.kind is WarningKind.GUARD_WINDOW for w in outcome.run.plan.warnings)


def seats_overrides(served: Served) -> int:
    """The new companies' seats overrides left in Schematic."""
    mine = {c["id"] for c in served.sb.schematic.companies.values() if c["name"].startswith("Company 7")}
    return sum(1 for o in served.sb.schematic.overrides.values()
               if o["company_id"] in mine and o["feature_id"] == "feat_seats")  # fmt: skip


def allowed_deletes(owned: int) -> int:
    """The most deletes one full run may make among `owned` overrides under the default guard."""
    settings = load_settings({})
    return max(k for k in range(owned + 1) if not judge(k, owned, settings.guards))


def test_a_reload_that_would_delete_too_much_is_held_and_deals_closing_delete_nothing(served: Served) -> None:
    """The seats rule removed from the watched folder: serve holds the reload (the old mappings stay in
    force, the guard's numbers kept for the alert); 28 deals closing one by one delete nothing; approval
    puts the edit in force."""
    before = served.live()
    remove_seats_rule(served.folder)
    assert served.live() is before
    held = served.live.held
    assert held is not None and "would be deleted or downgraded" in held.reason
    for n in range(28):
        close_deal(served, f"9{7001 + n}")
    assert seats_overrides(served) == COMPANIES  # was 29 of 30 deleted
    assert all(r.status is RunStatus.OK for r in served.outcomes)
    assert served.live.approve() and served.live.held is None
    assert not any(r.feature == "seats" for f in served.live().files for r in f.overrides)


def test_a_removed_rule_in_force_then_deals_closing_one_by_one_deletes_no_more_than_the_guard_allows(
    served: Served,
) -> None:
    """With the edit in force all the same (approved, or no vet), 28 one-company runs delete what one full
    run would be allowed to, and withhold the rest (a GUARD_WINDOW warning); no run is a failure."""
    owned = owned_now(served)
    assert seats_overrides(served) == COMPANIES and owned > COMPANIES
    served.live.vet = None  # as a reload that got in force
    remove_seats_rule(served.folder)
    for n in range(28):
        close_deal(served, f"9{7001 + n}")
    deleted = COMPANIES - seats_overrides(served)
    assert deleted == allowed_deletes(owned), (deleted, owned)  # 4 of 30 with 37 owned; was 28
    runs = served.outcomes[1:]
    assert len(runs) == 28 and all(r.status is RunStatus.OK for r in runs)  # held, not failing
    assert sum(1 for r in runs if held_by_window(r)) == 28 - deleted


def test_the_window_spans_full_and_scoped_runs(served: Served) -> None:
    """A full run's deletes count in the window a later one-company run is judged in."""
    budget = allowed_deletes(owned_now(served))
    for n in range(budget):  # lost deals: the full run deletes exactly the budget (allowed alone)
        served.sb.hubspot.update_deal(f"8{7001 + n}", dealstage="closedlost")
    assert served.service.worker.reconcile(None, Trigger.SCHEDULE).ok
    assert seats_overrides(served) == COMPANIES - budget
    close_deal(served, f"8{7001 + budget}", "closedlost")  # one more company, alone: past the window's budget
    assert seats_overrides(served) == COMPANIES - budget
    assert held_by_window(served.outcomes[-1])


def test_a_declined_apply_books_nothing_in_the_window(served: Served) -> None:
    """The window counts what runs write: an apply whose review declines leaves it as it was."""
    served.sb.hubspot.update_deal("87001", dealstage="closedlost")
    ctx = served.service.context
    request = Request(Trigger.MANUAL, Mode.APPLY)
    declined = reconcile(ctx, served.live(), request, review=lambda _run, _refusals: False)
    assert declined.status is RunStatus.DECLINED
    assert GuardWindow(ctx.store.engine).spent(3600) == Spent()
    assert reconcile(ctx, served.live(), request).ok
    assert GuardWindow(ctx.store.engine).spent(3600) == Spent(deletes=1)


def test_held_edits_adding_a_source_keep_one_connector_of_it_open(served: Served) -> None:
    """Five edits adding Salesforce, each held by the guards, leave one Salesforce connector open (was one
    more per edit, until serve stopped); approving the last puts that one in force, and it answers."""

    def alive() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if isinstance(o, SalesforceConnector))

    before, stamps = alive(), set()
    remove_seats_rule(served.folder)
    text = (sample_mappings() / "salesforce.yaml").read_text()
    for n in range(5):
        (served.folder / "salesforce.yaml").write_text(text + "#" * (n + 1) + "\n")  # a new stamp each time
        served.live()
        held = served.live.held
        assert held is not None and "would be deleted or downgraded" in held.reason
        stamps.add(held.stamp)
    assert len(stamps) == 5
    assert Source.SALESFORCE not in served.service.context.connectors  # held: not in force
    assert alive() - before == 1
    assert served.live.approve()
    connector = served.service.context.connectors[Source.SALESFORCE]
    assert connector.deal_schema().stages  # the kept connector is open and reads
    assert alive() - before == 1
