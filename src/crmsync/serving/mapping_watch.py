"""Hot reload of the mapping files for `crmsync serve`: `LiveMappings()` returns the mappings in force,
re-reading the folder when a file changed. An edit takes effect only once it passes the file checks,
`check` (`validate`'s online checks, app.py) and `vet` (the guards: an edit taking away too much is held
as a whole until `approve()`); otherwise its problems are logged with `file:line:col`, the `mappings` (or
`withheld`) state fails — metrics, /readyz, one alert — and the previous mappings stay in force.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from threading import Lock

from crmsync.errors import CrmsyncError, MappingError, Problem, ServiceError
from crmsync.logs import get_logger
from crmsync.mapping.loader import load_mappings
from crmsync.mapping.rules import Mappings
from crmsync.metrics import MAPPINGS_REJECTED, MAPPINGS_REVISION, SuccessTracker
from crmsync.safe_text import shown

log = get_logger("crmsync.mappings")
Stamp = tuple[tuple[str, int, int], ...]
# `validate`'s online checks: raises MappingError (rejected) or ServiceError (cannot check now); returns
# what puts the edit's connectors in force, called only once the edit is taken.
Check = Callable[[Mappings], Callable[[], None]]
Vet = Callable[[Mappings], str | None]  # why a valid reload must wait for approval (None: take it)
RETRY = 60.0  # seconds before a reload that could not be judged (an API down) is judged again
SHOWN = 3  # problems an alert quotes


@dataclass(frozen=True)
class HeldReload:
    """A valid edit of the mapping files kept out of force until a person approves it."""

    stamp: Stamp
    mappings: Mappings
    reason: str  # what it would take away, in the guards' words
    commit: Callable[[], None] = lambda: None  # puts its connectors in force


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


class LiveMappings:
    """The mapping files in force, reloaded when they change; callable (the intake's `mappings`)."""

    def __init__(
        self,
        folder: Path,
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        check: Check | None = None,
        vet: Vet | None = None,
        tracker: SuccessTracker | None = None,
    ) -> None:
        self.folder, self.interval, self.clock, self.check, self.vet = folder, interval, clock, check, vet
        self.tracker = tracker
        self._lock = Lock()
        self._stamp = stamp(folder)
        self._mappings = load_mappings(folder)  # the first load must succeed: serve refuses to start otherwise
        self._checked = clock()
        self.rejected: Stamp | None = None  # the edit last refused (logged once, not on every check)
        self.held: HeldReload | None = None  # a valid edit waiting for approval (`approve`)
        self.revision = ""
        self._in_force()

    @property
    def current(self) -> Mappings:
        """The mappings in force, without looking at the folder (no I/O: for /readyz)."""
        return self._mappings

    def approve(self) -> bool:
        """Put the held edit in force (a person approved what it takes away); False when none is held."""
        with self._lock:
            if self.held is None:
                return False
            held, self.held = self.held, None
            held.commit()
            self._mappings, self._stamp, self.rejected = held.mappings, held.stamp, None
            log.warning("mappings.approved", folder=str(self.folder), files=len(held.mappings.files))
            self._in_force()
            if self.tracker is not None:
                self.tracker.cleared("withheld", tell=True)
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
            commit = self.check(fresh) if self.check is not None else (lambda: None)
        except MappingError as exc:
            self._reject(now, exc.problems)
            return
        except ServiceError as exc:  # not the edit's fault: keep the old mappings, look again later
            self._unjudged(exc)
            return
        if self._withheld(now, fresh, commit):
            return
        commit()
        self._mappings, self._stamp, self.rejected, self.held = fresh, now, None, None
        self._in_force()
        log.info("mappings.reloaded", folder=str(self.folder), files=len(fresh.files), revision=self.revision)
        if self.tracker is not None:
            text = f":large_green_circle: crmsync: the mapping files are valid; revision {self.revision} is in force."
            self.tracker.cleared("mappings", text)

    def _in_force(self) -> None:
        self.revision = revision(self.folder)
        MAPPINGS_REJECTED.set(0)
        MAPPINGS_REVISION.clear()
        MAPPINGS_REVISION.labels(revision=self.revision).set(1)

    def _unjudged(self, exc: ServiceError) -> None:
        self._checked = self.clock() + RETRY - self.interval
        log.warning("mappings.unjudged", folder=str(self.folder), error=str(exc)[:300],
                    detail=f"the previous mapping files stay in force; judged again in {RETRY:g} s")  # fmt: skip

    def _withheld(self, now: Stamp, fresh: Mappings, commit: Callable[[], None]) -> bool:
        """True when `vet` holds the edit (or could not judge it yet: judged again in RETRY seconds)."""
        if self.vet is None:
            return False
        try:
            reason = self.vet(fresh)
        except ServiceError as exc:  # a CRM or Schematic down: keep the old mappings, judge again later
            self._unjudged(exc)
            return True
        except CrmsyncError as exc:  # the edit cannot run here (an unknown feature, a CRM not configured)
            problems = exc.problems if isinstance(exc, MappingError) else [Problem(str(self.folder), 1, 1, str(exc))]
            self._reject(now, problems)
            return True
        if reason is None:
            return False
        self.held, self.rejected = HeldReload(now, fresh, reason, commit), now
        log.error("mappings.held", folder=str(self.folder), reason=reason,
                  detail="the previous mapping files stay in force until the change is approved")  # fmt: skip
        if self.tracker is not None:
            text = (
                f":warning: crmsync: an edit of the mapping files in {self.folder} is held: {shown(reason[:500])}. "
                "The previous mappings stay in force; approve it with POST /approve (or the console)."
            )
            self.tracker.failed("withheld", f"a mapping edit is held: {reason[:300]}", text)
        return True

    def _reject(self, now: Stamp, problems: list[Problem]) -> None:
        self.rejected = now
        for problem in problems:
            log.error("mappings.rejected", problem=str(problem))
        log.error("mappings.kept", folder=str(self.folder), problems=len(problems), revision=self.revision,
                  detail="the previous mapping files stay in force until these are fixed")  # fmt: skip
        MAPPINGS_REJECTED.set(1)
        if self.tracker is None:
            return
        lines = [f"• {shown(str(p)[:300])}" for p in problems[:SHOWN]]  # a name from the file: one line
        more = [f"… and {len(problems) - SHOWN} more (crmsync validate)"] if len(problems) > SHOWN else []
        why = (
            f"{len(problems)} problem(s) in the edited mapping files, first: {problems[0]}" if problems else "rejected"
        )
        head = (
            f":red_circle: crmsync: an edit of the mapping files in {self.folder} was rejected at "
            f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())}Z; revision {self.revision} stays in force:"
        )
        self.tracker.failed("mappings", why[:500], "\n".join([head, *lines, *more]))
