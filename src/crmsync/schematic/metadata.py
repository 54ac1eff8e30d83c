"""Schematic metadata held between reconciles, each entry for a bounded age (`[schematic] metadata_max_age`).

Features and plan entitlements change rarely but were read on every reconcile: on serve's path of one
deal change they were two of eleven sequential calls. The client (schematic/client.py) keeps them
here; an entry older than the bound is read again, and a rejected write forgets them all. A company
answer of a lookup is handed once to the next read of that company, while young (it repeats it); the
lookups held are few and young (`LOOKUPS_HELD`, `LOOKUP_AGE`): serve runs for months, its memory stays flat.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from typing import TypeVar

from crmsync.domain import Company, CompanyId, Feature
from crmsync.reconcile.entitlements import PlanEntitlements

T = TypeVar("T")
LOOKUP_AGE = 5.0  # seconds a lookup's company answer may stand in for the read of it that follows
LOOKUPS_HELD = 512  # lookups' companies held at most (a resolve batch looks up fewer; the oldest go first)


class MetadataCache:
    """Features and plan versions for `max_age` seconds (0: nothing is kept), and lookups' companies."""

    def __init__(self, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()  # serve's worker and its side-by-side reads share one client
        self._features: tuple[float, list[Feature]] | None = None
        self._plans: dict[str, tuple[float, PlanEntitlements]] = {}
        self._looked_up: dict[CompanyId, tuple[float, Company]] = {}  # oldest first (insertion order)

    def features(self, read: Callable[[], list[Feature]]) -> list[Feature]:
        """The features, read again when none are held or they are older than the bound."""
        with self._lock:
            held = self._features
        if held is not None and self._young(held[0], self.max_age):
            return list(held[1])
        at = self._clock()
        found = read()
        if self.max_age > 0:
            with self._lock:
                self._features = (at, list(found))
        return found

    def plan(self, version: str, read: Callable[[str], PlanEntitlements]) -> PlanEntitlements:
        """One plan version's entitlements, read again when not held or older than the bound."""
        with self._lock:
            held = self._plans.get(version)
        if held is not None and self._young(held[0], self.max_age):
            return held[1]
        at = self._clock()
        found = read(version)
        if self.max_age > 0:
            with self._lock:
                self._plans[version] = (at, found)
        return found

    def looked_up(self, company: Company) -> None:
        """A lookup's answer, for the read of the same company that usually follows at once. Lookups too
        old to stand in are dropped, and the oldest beyond `LOOKUPS_HELD` (a lookup never read after)."""
        if self.max_age <= 0:
            return
        with self._lock:
            now = self._clock()
            self._looked_up.pop(company.id, None)  # re-inserted last: the dict stays oldest first
            self._looked_up[company.id] = (now, company)
            held = self._looked_up
            while held and (len(held) > LOOKUPS_HELD or now - next(iter(held.values()))[0] >= LOOKUP_AGE):
                del held[next(iter(held))]

    def take_companies(self, ids: Collection[CompanyId]) -> list[Company] | None:
        """Every one of `ids` as a lookup answered it moments ago (each handed out once; an id named twice
        is one company), else None."""
        wanted = list(dict.fromkeys(ids))
        with self._lock:
            held = [self._looked_up.get(i) for i in wanted]
            if not wanted or any(h is None or not self._young(h[0], LOOKUP_AGE) for h in held):
                return None
            for i in wanted:
                self._looked_up.pop(i, None)
        return [h[1] for h in held if h is not None]

    @property
    def lookups_held(self) -> int:
        """How many lookups' companies are held now (never more than `LOOKUPS_HELD`)."""
        with self._lock:
            return len(self._looked_up)

    def forget(self) -> bool:
        """Drop everything held (a write named a feature or plan the cache may hold wrong); True when
        something was held."""
        with self._lock:
            held = self._features is not None or bool(self._plans)
            self._features, self._plans = None, {}
            self._looked_up.clear()
        return held

    def _young(self, at: float, bound: float) -> bool:
        return self._clock() - at < bound
