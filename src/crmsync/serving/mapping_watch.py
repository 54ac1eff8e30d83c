"""Hot reload of the mapping files for `crmsync serve`: `LiveMappings()` returns the mappings in
force, re-reading the folder when a file changed (a cheap stat of every file, at most every
`interval` seconds). An edit that does not validate is rejected: each located problem is logged and
the previous mappings stay in force until the files are fixed. An edit that validates but would delete
or downgrade more than the guards allow (`vet`, service/guard_window.py) is held as a whole: the
previous mappings stay in force, `held` says why, and `approve()` puts it in force.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from threading import Lock

from crmsync.errors import CrmsyncError, MappingError, ServiceError
from crmsync.logs import get_logger
from crmsync.mapping.loader import load_mappings
from crmsync.mapping.rules import Mappings

log = get_logger("crmsync.mappings")
Stamp = tuple[tuple[str, int, int], ...]
Vet = Callable[[Mappings], str | None]  # why a valid reload must wait for approval (None: take it)
RETRY = 60.0  # seconds before a reload that could not be judged (a CRM down) is judged again


@dataclass(frozen=True)
class HeldReload:
    """A valid edit of the mapping files kept out of force until a person approves it."""

    stamp: Stamp
    mappings: Mappings
    reason: str  # what it would take away, in the guards' words


def stamp(folder: Path) -> Stamp:
    """Every mapping file's name, size and modification time (nanoseconds)."""
    files = sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    return tuple((str(p), (st := p.stat()).st_size, st.st_mtime_ns) for p in files)


class LiveMappings:
    """The mapping files in force, reloaded when they change; callable (the intake's `mappings`)."""

    def __init__(
        self,
        folder: Path,
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        vet: Vet | None = None,
    ) -> None:
        self.folder, self.interval, self.clock, self.vet = folder, interval, clock, vet
        self._lock = Lock()
        self._stamp = stamp(folder)
        self._mappings = load_mappings(folder)  # the first load must succeed: serve refuses to start otherwise
        self._checked = clock()
        self.rejected: Stamp | None = None  # the edit last refused (logged once, not on every check)
        self.held: HeldReload | None = None  # a valid edit waiting for approval (`approve`)

    def approve(self) -> bool:
        """Put the held edit in force (a person approved what it takes away); False when none is held."""
        with self._lock:
            if self.held is None:
                return False
            held, self.held = self.held, None
            self._mappings, self._stamp, self.rejected = held.mappings, held.stamp, None
            log.warning("mappings.approved", folder=str(self.folder), files=len(held.mappings.files))
            return True

    def __call__(self) -> Mappings:
        """The mappings in force (re-read first when a file changed since the last look)."""
        with self._lock:
            if self.clock() - self._checked >= self.interval:
                self._checked = self.clock()
                self._reload_if_changed()
            return self._mappings

    def _reload_if_changed(self) -> None:
        try:
            now = stamp(self.folder)
        except OSError as exc:
            log.warning("mappings.unreadable", folder=str(self.folder), error=type(exc).__name__)
            return
        if now in (self._stamp, self.rejected):
            return
        try:
            fresh = load_mappings(self.folder)
        except MappingError as exc:
            self.rejected = now
            for problem in exc.problems:
                log.error("mappings.rejected", problem=str(problem))
            log.error(
                "mappings.kept",
                folder=str(self.folder),
                problems=len(exc.problems),
                detail="the previous mapping files stay in force until these are fixed",
            )
            return
        if self._withheld(now, fresh):
            return
        self._mappings, self._stamp, self.rejected, self.held = fresh, now, None, None
        log.info("mappings.reloaded", folder=str(self.folder), files=len(fresh.files))

    def _withheld(self, now: Stamp, fresh: Mappings) -> bool:
        """True when `vet` holds the edit (or could not judge it yet: judged again in RETRY seconds)."""
        if self.vet is None:
            return False
        try:
            reason = self.vet(fresh)
        except ServiceError as exc:  # a CRM or Schematic down: keep the old mappings, judge again later
            self._checked = self.clock() + RETRY - self.interval
            log.warning(
                "mappings.unjudged",
                folder=str(self.folder),
                error=str(exc)[:300],
                detail=f"the previous mapping files stay in force; judged again in {RETRY:g} s",
            )
            return True
        except CrmsyncError as exc:  # the edit cannot run here (an unknown feature, a CRM not configured)
            self.rejected = now
            for problem in exc.problems if isinstance(exc, MappingError) else [exc]:
                log.error("mappings.rejected", problem=str(problem)[:500])
            log.error("mappings.kept", folder=str(self.folder),
                      detail="the previous mapping files stay in force until these are fixed")  # fmt: skip
            return True
        if reason is None:
            return False
        self.held, self.rejected = HeldReload(now, fresh, reason), now
        log.error(
            "mappings.held",
            folder=str(self.folder),
            reason=reason,
            detail="the previous mapping files stay in force until the change is approved",
        )
        return True
