"""A chaos world: a few hundred companies in HubSpot, Salesforce and Schematic, CRM changes
between rounds, the fault profile, and the oracle that says what Schematic must hold.

Everything the suite asks of crmsync goes through `Harness` methods (`apply`, `plan`), so the
suite survives changes to the service behind them.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field, replace
from typing import Any

from crmsync.errors import CrmsyncError
from crmsync.sandbox.faults import Mode
from crmsync.store.repository import Store
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import carries_crmsync_note

SEATS = "feat_seats"


@dataclass
class Company:
    """One generated company: its Schematic id, the CRM record driving it, and its seats."""

    schematic_id: str
    source: str  # "hubspot" or "salesforce"
    deal_id: str
    seats: int | None  # None: its deal is lost, so no override


@dataclass
class World:
    """The generated companies and the random source of their changes."""

    h: Harness
    rng: random.Random
    companies: list[Company] = field(default_factory=list)
    unowned: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, count: int) -> None:
        """`count` new companies, one in five in Salesforce, each with one won deal."""
        sb = self.h.sb
        for _ in range(count):
            n = len(self.companies)
            seats = self.rng.randint(1, 500)
            if n % 5 == 4 and sb.salesforce is not None:
                account = sb.salesforce.add_account(f"001C{n:011d}AAA", name=f"Chaos SF {n}")
                company = sb.schematic.add_company(f"Chaos SF {n}", {"salesforce_account_id": account})
                deal = sb.salesforce.add_opportunity(
                    IsWon=True, StageName="Closed Won", AccountId=account, Seats__c=seats
                )
                self.companies.append(Company(company, "salesforce", deal, seats))
            else:
                ref = str(70_000 + n)
                sb.hubspot.add_company(ref, f"Chaos {ref}")
                company = sb.schematic.add_company(f"Chaos {ref}", {"hubspot_company_id": ref})
                props = {
                    "dealstage": "closedwon",
                    "pipeline": "default",
                    "seats_purchased": str(seats),
                    "closedate": "2026-05-01T12:00:00Z",
                }
                deal = sb.hubspot.add_deal(properties=props, company_ids=[ref])
                self.companies.append(Company(company, "hubspot", deal, seats))

    def change(self, share: float = 0.1, lose: int = 3, new: int = 5) -> None:
        """CRM changes between rounds: seats of `share` of the companies, `lose` deals lost, `new` companies."""
        alive = [c for c in self.companies if c.seats is not None]
        for company in self.rng.sample(alive, max(1, int(len(alive) * share))):
            company.seats = self.rng.randint(1, 500)
            self._write(company)
        for company in self.rng.sample(alive, min(lose, len(alive))):
            company.seats = None
            self._write(company)
        self.add(new)

    def _write(self, company: Company) -> None:
        sb = self.h.sb
        if company.source == "hubspot":
            if company.seats is None:
                sb.hubspot.update_deal(company.deal_id, dealstage="closedlost")
            else:
                sb.hubspot.update_deal(company.deal_id, seats_purchased=str(company.seats))
        elif sb.salesforce is not None:
            if company.seats is None:
                sb.salesforce.delete_opportunity(company.deal_id)
            else:
                sb.salesforce.update_opportunity(company.deal_id, Seats__c=company.seats)

    def remember_unowned(self) -> None:
        """A copy of every override crmsync did not create, to prove it is never touched."""
        self.unowned = {
            i: copy.deepcopy(r) for i, r in self.h.sb.schematic.overrides.items() if not carries_crmsync_note(r)
        }


def chaos(h: Harness, seed: int) -> None:
    """The issue's fault profile on every emulator: 10% 5xx (half before, half after the commit),
    5% timeouts (hangs and late answers), 429 bursts, 3% lost answers (connection reset after the commit)."""
    h.sb.faults.clear()
    h.sb.faults.seed(seed)
    for faults in h.sb.faults.all():
        faults.add(Mode.ERROR_BEFORE, probability=0.05, status=503)
        faults.add(Mode.ERROR_AFTER, probability=0.05 / 0.95, status=500)
        faults.add(Mode.HANG, probability=0.025, seconds=0.6)
        faults.add(Mode.LATENCY, probability=0.025, seconds=0.6)
        faults.add(Mode.RESET_AFTER, probability=0.03)
        if faults.style != "salesforce":  # Salesforce answers REQUEST_LIMIT_EXCEEDED, not 429
            faults.add(Mode.RATE_LIMIT, probability=0.01, burst=4, retry_after=h_rng_retry_after(seed))


def h_rng_retry_after(seed: int) -> str:
    """A Retry-After the 429s of a seed carry: integer, fractional or huge (capped by the client)."""
    return ("0", "0.05", "1", "600")[seed % 4]


def tight(h: Harness) -> None:
    """Short timeouts, deadlines and Retry-After caps, so a timeout costs a fraction of a second."""
    s = h.settings
    h.settings = replace(
        s,
        schematic=replace(s.schematic, timeout=0.3, deadline=3.0, retry_after_max=0.1),
        hubspot=replace(s.hubspot, deadline=1.6, retry_after_max=0.1),
        salesforce=replace(s.salesforce, deadline=3.0),
    )


def apply_under_faults(h: Harness) -> bool:
    """One apply through the harness; False when the run failed as a whole (also a converging step)."""
    try:
        _, report = h.apply()
    except CrmsyncError:
        return False
    return bool(report.ok)


def converged(h: Harness) -> bool:
    """With the faults off: the next plan has nothing to do."""
    return bool(h.plan().plan.is_empty)


def disagreements(world: World) -> list[str]:
    """Everything in which Schematic, the oracle and the ledger differ; [] when they agree."""
    h, problems = world.h, []
    records = h.sb.schematic.overrides
    for company in world.companies:
        seats = [r for r in h.sb.schematic.overrides_for(company.schematic_id, SEATS)]
        want = [] if company.seats is None else [company.seats]
        got = [r.get("value_numeric") for r in seats]
        if got != want:
            problems.append(f"{company.schematic_id} ({company.source} {company.deal_id}): seats {got}, want {want}")
    pairs: dict[tuple[str, str], int] = {}
    for record in records.values():
        key = (record["company_id"], record["feature_id"])
        pairs[key] = pairs.get(key, 0) + 1
    problems += [f"duplicate overrides for {key}" for key, n in pairs.items() if n > 1]
    for override_id, before in world.unowned.items():
        if records.get(override_id) != before:
            problems.append(f"unowned override {override_id} was touched")
    noted = {i for i, r in records.items() if carries_crmsync_note(r)}
    store = Store(h.settings.database_url)
    try:
        owned = store.owned()
    finally:
        store.close()
    active = {o.override_id for o in owned if o.status == "active" and o.override_id}
    problems += [f"ledger row {i} has no override in Schematic" for i in sorted(active - noted)]
    problems += [f"override {i} carries crmsync's note but is not in the ledger" for i in sorted(noted - active)]
    return problems


def ledger_lag(h: Harness) -> list[str]:
    """What the ledger has not settled: `intent` rows left after convergence, and recorded values
    that differ from Schematic's (an update whose answer was lost). Each run settles these from
    Schematic before it writes, so after one clean apply there must be none."""
    store = Store(h.settings.database_url)
    try:
        owned = store.owned()
    finally:
        store.close()
    records = h.sb.schematic.overrides
    lag = [f"intent row {o.token} for {o.company_id}/{o.feature_id}" for o in owned if o.status == "intent"]
    for row in owned:
        live = records.get(row.override_id or "", {})
        stale = {k: v for k, v in row.last_applied.items() if k.startswith("value_") and live.get(k) != v}
        if row.status == "active" and stale:
            lag.append(f"ledger value of {row.override_id} {stale} differs from Schematic")
    return lag
