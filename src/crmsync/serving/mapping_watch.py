"""Hot reload of the mapping files for `crmsync serve`: `LiveMappings()` returns the mappings in force,
re-reading the folder when a file changed. An edit takes effect only once it passes the file checks and
`check`, `validate`'s online checks (app.py: fresh CRM schemas, connectors for new sources); otherwise its
located problems are logged, the `mappings` state fails (metrics, /readyz, one alert) and the previous
mappings stay in force. An edit that cannot be checked (an API down) is checked again `retry` s later.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, ItemsView, Iterator, Mapping, ValuesView
from pathlib import Path
from threading import Lock

from crmsync.connectors.base import Connector
from crmsync.domain import Source
from crmsync.errors import MappingError, Problem, ServiceError
from crmsync.logs import get_logger
from crmsync.mapping.loader import load_mappings
from crmsync.mapping.rules import Mappings
from crmsync.metrics import MAPPINGS_REJECTED, MAPPINGS_REVISION, SuccessTracker
from crmsync.safe_text import shown

log = get_logger("crmsync.mappings")
Stamp = tuple[tuple[str, int, int], ...]
Check = Callable[[Mappings], None]  # raises MappingError (rejected) or ServiceError (cannot check now)
SHOWN = 3  # problems an alert quotes


def stamp(folder: Path) -> Stamp:
    """Every mapping file's name, size and modification time (nanoseconds)."""
    files = sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    return tuple((str(p), (st := p.stat()).st_size, st.st_mtime_ns) for p in files)


def revision(folder: Path) -> str:
    """A short hash of every mapping file's name and content: which mappings are in force."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


class ConnectorSet(Mapping[Source, Connector]):
    """The connectors of the sources the mappings in force read; a reload swaps the whole set at once,
    so a run iterating it sees either the old set or the new one, never a half-changed dict."""

    def __init__(self, connectors: Mapping[Source, Connector]) -> None:
        self._current = dict(connectors)

    def __getitem__(self, source: Source) -> Connector:
        return self._current[source]

    def __iter__(self) -> Iterator[Source]:
        return iter(tuple(self._current))

    def __len__(self) -> int:
        return len(self._current)

    def items(self) -> ItemsView[Source, Connector]:
        """The pairs of one set (a swap meanwhile cannot make a key vanish mid-iteration)."""
        return self._current.items()

    def values(self) -> ValuesView[Connector]:
        """The connectors of one set."""
        return self._current.values()

    def replace(self, connectors: Mapping[Source, Connector]) -> None:
        """Put `connectors` in force."""
        self._current = dict(connectors)


class LiveMappings:
    """The mapping files in force, reloaded when they change; callable (the intake's `mappings`)."""

    def __init__(
        self,
        folder: Path,
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        check: Check | None = None,
        tracker: SuccessTracker | None = None,
        retry: float = 30.0,
    ) -> None:
        self.folder, self.interval, self.clock, self.check, self.tracker = folder, interval, clock, check, tracker
        self.retry = retry
        self._lock = Lock()
        self._stamp = stamp(folder)
        self._mappings = load_mappings(folder)  # the first load must succeed: serve refuses to start otherwise
        self._checked = clock()
        self._unverified_until = 0.0  # an edit that could not be checked (an API down) waits until then
        self.rejected: Stamp | None = None  # the edit last refused (logged once, not on every check)
        self.revision = revision(folder)
        MAPPINGS_REJECTED.set(0)
        MAPPINGS_REVISION.clear()
        MAPPINGS_REVISION.labels(revision=self.revision).set(1)

    def __call__(self) -> Mappings:
        """The mappings in force (re-read first when a file changed since the last look)."""
        with self._lock:
            if self.clock() - self._checked >= self.interval:
                self._checked = self.clock()
                self._reload_if_changed()
            return self._mappings

    @property
    def current(self) -> Mappings:
        """The mappings in force, without looking at the folder (no I/O: for /readyz)."""
        return self._mappings

    def _reload_if_changed(self) -> None:
        try:
            now = stamp(self.folder)
        except OSError as exc:
            log.warning("mappings.unreadable", folder=str(self.folder), error=type(exc).__name__)
            return
        if now in (self._stamp, self.rejected) or self.clock() < self._unverified_until:
            return
        try:
            fresh = load_mappings(self.folder)
            if self.check is not None:
                self.check(fresh)
        except MappingError as exc:
            self._reject(now, exc.problems)
            return
        except ServiceError as exc:  # not the edit's fault: keep the old mappings, look again later
            self._unverified_until = self.clock() + self.retry
            log.warning(
                "mappings.unverified",
                folder=str(self.folder),
                error=str(exc)[:300],
                detail=f"the previous mapping files stay in force; checked again in {self.retry:.0f} s",
            )
            return
        self._mappings, self._stamp, self.rejected = fresh, now, None
        self.revision = revision(self.folder)
        MAPPINGS_REJECTED.set(0)
        MAPPINGS_REVISION.clear()
        MAPPINGS_REVISION.labels(revision=self.revision).set(1)
        log.info("mappings.reloaded", folder=str(self.folder), files=len(fresh.files), revision=self.revision)
        if self.tracker is not None:
            self.tracker.cleared(
                "mappings",
                f":large_green_circle: crmsync: the mapping files are valid again; "
                f"revision {self.revision} is in force.",
            )

    def _reject(self, now: Stamp, problems: list[Problem]) -> None:
        self.rejected = now
        for problem in problems:
            log.error("mappings.rejected", problem=str(problem))
        log.error(
            "mappings.kept",
            folder=str(self.folder),
            problems=len(problems),
            revision=self.revision,
            detail="the previous mapping files stay in force until these are fixed",
        )
        MAPPINGS_REJECTED.set(1)
        if self.tracker is None:
            return
        lines = [f"• {shown(str(p)[:300])}" for p in problems[:SHOWN]]  # a name from the file: one line
        more = [f"… and {len(problems) - SHOWN} more (crmsync validate)"] if len(problems) > SHOWN else []
        why = (
            f"{len(problems)} problem(s) in the edited mapping files, first: {problems[0]}" if problems else "rejected"
        )
        message = "\n".join([
            f":red_circle: crmsync: an edit of the mapping files in {self.folder} was rejected at "
            f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())}Z; revision {self.revision} stays in force:",
            *lines, *more,
        ])  # fmt: skip
        self.tracker.failed("mappings", why[:500], message)
