"""The edges one run talks to (`Context`, built by app.py from settings) and a computed plan with
everything it was computed from (`PlanRun`, made by service/planning.py). Every module of the reconcile
use case takes these; they live apart from planning so the ledger and planning modules need not import
each other.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from crmsync.connectors.base import Connector, ReadResult
from crmsync.domain import Company, CompanyId, Feature, LiveOverride, OverrideId, Source
from crmsync.mapping.translate import Translation
from crmsync.reconcile.guards import GuardPolicy
from crmsync.reconcile.plan import Plan
from crmsync.schematic.client import SchematicClient
from crmsync.store.repository import Owned, Store


@dataclass
class Context:
    """The edges one run talks to, built by the caller from settings."""

    schematic: SchematicClient
    connectors: Mapping[Source, Connector]
    store: Store
    clock: Callable[[], datetime]
    guards: GuardPolicy = field(default_factory=GuardPolicy)
    lease_ttl: float = 60.0  # seconds a company's lease lasts unless renewed (a killed run blocks no longer)
    actor: str = ""  # who starts its runs: CRMSYNC_ACTOR or the OS user, a console user, `serve`


@dataclass(frozen=True)
class PlanRun:
    """A plan with everything it was computed from (apply and explain need it)."""

    plan: Plan
    reads: tuple[ReadResult, ...]  # streamed: how many deals each read gave, not the deals
    translation: Translation  # a full run keeps only its problems; a scoped one all (`explain` traces it)
    live: tuple[LiveOverride, ...]
    owned: tuple[Owned, ...]
    found_intents: Mapping[str, OverrideId] = field(default_factory=dict)  # token → id of a lost create
    companies: tuple[Company, ...] = ()
    features: tuple[Feature, ...] = ()
    scope: frozenset[CompanyId] | None = None  # the companies a scoped reconcile covered; None: all
    released: tuple[Owned, ...] = ()  # the ledger's released rows when the plan was made
    baseline: Mapping[str, int] = field(default_factory=dict)  # deals per source at the last apply (the guard's)
    settled: Mapping[OverrideId, Mapping[str, object] | None] = field(default_factory=dict)  # lost updates: value/None
    as_of: datetime | None = None  # the instant the deals were judged at (the next run's `since` for expiries)

    @property
    def owned_ids(self) -> set[OverrideId]:
        """The overrides crmsync owns: its ledger's, and those of lost creates found by their token."""
        return owned_ids_of(self.owned, self.found_intents)


def owned_ids_of(owned: Collection[Owned], found: Mapping[str, OverrideId]) -> set[OverrideId]:
    """The overrides crmsync owns: the ledger's rows with an id, and the lost creates found by token."""
    return {o.override_id for o in owned if o.override_id} | set(found.values())
