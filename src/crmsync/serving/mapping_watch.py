"""Hot reload of the mapping files for `crmsync serve`: `LiveMappings()` returns the mappings in
force, re-reading the folder when a file changed (a cheap stat of every file, at most every
`interval` seconds). An edit that does not validate is rejected: each located problem is logged and
the previous mappings stay in force until the files are fixed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from threading import Lock

from crmsync.errors import MappingError
from crmsync.logs import get_logger
from crmsync.mapping.loader import load_mappings
from crmsync.mapping.rules import Mappings

log = get_logger("crmsync.mappings")
Stamp = tuple[tuple[str, int, int], ...]


def stamp(folder: Path) -> Stamp:
    """Every mapping file's name, size and modification time (nanoseconds)."""
    files = sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    return tuple((str(p), (st := p.stat()).st_size, st.st_mtime_ns) for p in files)


class LiveMappings:
    """The mapping files in force, reloaded when they change; callable (the intake's `mappings`)."""

    def __init__(
        self, folder: Path, *, interval: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.folder, self.interval, self.clock = folder, interval, clock
        self._lock = Lock()
        self._stamp = stamp(folder)
        self._mappings = load_mappings(folder)  # the first load must succeed: serve refuses to start otherwise
        self._checked = clock()
        self.rejected: Stamp | None = None  # the edit last refused (logged once, not on every check)

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
            log.error("mappings.kept", folder=str(self.folder), problems=len(exc.problems),
                      detail="the previous mapping files stay in force until these are fixed")
            return
        self._mappings, self._stamp, self.rejected = fresh, now, None
        log.info("mappings.reloaded", folder=str(self.folder), files=len(fresh.files))
