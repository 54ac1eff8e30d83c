"""Intake hints → the Schematic companies to reconcile, in bulk; called by the intake worker (serving/worker.py).

A payload is only a hint: the CRM is asked again which company each deal belongs to now (HubSpot v4
association batch reads, one SOQL `Id IN (…)` for Salesforce). The companies a deal used to drive
come from the ownership ledger (the note of every override crmsync writes names its deals), so a
deleted or moved deal still reconciles the company it left. CRM company refs become Schematic
company ids through the company keys the mapping files name; a company found is remembered for
`FOUND_MAX_AGE` seconds (a burst of hints for one company asks Schematic once), one not found is asked
again at the next batch (it may have been created since).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from crmsync.connectors.base import Connector
from crmsync.domain import CompanyId, Source
from crmsync.logs import get_logger
from crmsync.mapping.rules import Mappings
from crmsync.metrics import SuccessTracker
from crmsync.reconcile.note import note_deals
from crmsync.schematic.client import SchematicClient
from crmsync.serving.health import report
from crmsync.store.intake import ClaimedEvent, IntakeStore

log = get_logger("crmsync.intake")
FOUND_MAX_AGE = 60.0  # seconds a company found by its key is used without asking Schematic again
FOUND_MAX = 20_000  # companies remembered at most (the oldest are forgotten first)
LOOKUPS_AT_ONCE = 4  # company lookups a batch of hints has under way together


# reconcile/note.py `make_note`: "Managed by crmsync from hubspot deals 1, 2; salesforce deal 006…; rule …"
@dataclass
class Resolver:
    """Finds the Schematic companies behind a batch of hints."""

    connectors: Mapping[Source, Connector]
    schematic: SchematicClient
    intake: IntakeStore
    mappings: Callable[[], Mappings]  # called per batch: a reloaded mapping takes effect at once
    tracker: SuccessTracker | None = None
    clock: Callable[[], float] = time.monotonic
    # (key, ref) → (when found, the company); not-found answers live for one batch only
    _found: OrderedDict[tuple[str, str], tuple[float, CompanyId]] = field(default_factory=OrderedDict, init=False)
    _missing: set[tuple[str, str]] = field(default_factory=set, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)  # the lookups run side by side

    def companies(self, events: Sequence[ClaimedEvent]) -> set[CompanyId]:
        """Every company the hints touch: named by Schematic, owning the deal now, or driven by it before.
        An API outage met on the way is told to the tracker (its state) before the error goes on."""
        try:
            return self._companies(events)
        except Exception as exc:
            report(self.tracker, exc)
            raise

    def _companies(self, events: Sequence[ClaimedEvent]) -> set[CompanyId]:
        self._missing.clear()  # a company created since the last batch must be found
        found = {CompanyId(e.company_key) for e in events if e.source == "schematic" and e.company_key}
        crm = [e for e in events if e.source in (Source.HUBSPOT.value, Source.SALESFORCE.value)]
        if not crm:
            return found
        maps = self.mappings()
        found |= self._from_ledger(crm)
        for source in (Source.HUBSPOT, Source.SALESFORCE):
            mine = [e for e in crm if e.source == source.value]
            if mine:
                found |= self._from_crm(source, mine, maps)
        return found

    def _from_ledger(self, events: Collection[ClaimedEvent]) -> set[CompanyId]:
        wanted = {(e.source, e.object_id) for e in events}
        notes = self.intake.ledger_notes(mentioning={e.object_id for e in events})
        return {CompanyId(c) for c, note in notes if wanted.intersection(note_deals(note))}

    def _from_crm(self, source: Source, events: Sequence[ClaimedEvent], maps: Mappings) -> set[CompanyId]:
        keys = sorted({f.company_key for f in maps.for_source(source)})
        connector = self.connectors.get(source)
        if not keys or connector is None:
            log.info("hints.skipped", source=source.value, hints=len(events), reason="no mapping reads it")
            return set()
        refs = {e.company_key for e in events if e.company_key}
        live = [e.object_id for e in events if e.kind != "deal.deletion"]
        if live:
            refs |= set(connector.companies_of_deals(live).values())
            self._succeeded(source.value)
        ordered = sorted(refs)
        if len(ordered) <= 1:
            return {c for ref in ordered if (c := self._schematic_company(keys, ref)) is not None}
        # Schematic has no lookup of many keys at once: the ones not remembered are asked side by side
        with ThreadPoolExecutor(LOOKUPS_AT_ONCE, thread_name_prefix="crmsync-lookup") as pool:
            found = list(pool.map(lambda ref: self._schematic_company(keys, ref), ordered))
        return {c for c in found if c is not None}

    def _schematic_company(self, keys: Sequence[str], ref: str) -> CompanyId | None:
        """The Schematic company carrying `ref` under one of the mapping's company keys (None: no such
        company yet, which a plan reports as pending)."""
        for key in keys:
            with self._lock:
                if (found := self._known(key, ref)) is not None:
                    return found
                if (key, ref) in self._missing:
                    continue
            company = self.schematic.lookup_company({key: ref})
            self._succeeded("schematic")
            with self._lock:
                if company is None:
                    self._missing.add((key, ref))
                    continue
                self._found[(key, ref)] = (self.clock(), company.id)
                while len(self._found) > FOUND_MAX:
                    self._found.popitem(last=False)
            return company.id
        log.info("hints.no_company", keys="/".join(keys), ref=ref)  # nothing to reconcile for it yet
        return None

    def _known(self, key: str, ref: str) -> CompanyId | None:
        """The company found for (key, ref) less than FOUND_MAX_AGE seconds ago."""
        held = self._found.get((key, ref))
        if held is None:
            return None
        if self.clock() - held[0] >= FOUND_MAX_AGE:
            del self._found[(key, ref)]
            return None
        return held[1]

    def _succeeded(self, source: str) -> None:
        if self.tracker is not None:
            self.tracker.succeeded(source)
