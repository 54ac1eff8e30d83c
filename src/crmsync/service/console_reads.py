"""What the console's pages show, read from the state database: runs (paged, filtered), one run,
the ownership ledger (paged, filtered, streamed as CSV rows), known companies, the open problems of
the latest run and the overview. Frozen page data only; the console's views call these (in a
thread), never the store. Reads only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from crmsync.store.browse import CompanyRow, LedgerRow
from crmsync.store.intake import IntakeStore
from crmsync.store.repository import ChangeResult, Store
from crmsync.store.tables import RunRecord

__all__ = ["CompanyRow", "LedgerRow"]  # the views' row types, named from here (views never import the store)
PAGE = 50  # rows per page
PLANS = ("plan", "apply")
T = TypeVar("T")


@dataclass(frozen=True)
class RunRow:
    """One run as a list shows it: what, why, who, how it ended, its counts and how long it took."""

    id: int
    command: str
    trigger: str
    actor: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, int]
    errors: tuple[str, ...]

    @property
    def duration(self) -> str:
        """`1.2 s`, or `running` when not finished."""
        if self.finished_at is None:
            return "running"
        return f"{(self.finished_at - self.started_at).total_seconds():.1f} s"

    @property
    def initiated_by(self) -> str:
        """Argo CD's "initiated by": a person's name, or `automated` for serve's own triggers."""
        return self.actor or "automated"


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows and the cursor of the next (None on the last page)."""

    rows: tuple[T, ...]
    next: str | None = None


@dataclass(frozen=True)
class RunDetail:
    """One run: its row, each change's result, its refusals and warnings, and names of ids."""

    run: RunRow
    changes: tuple[ChangeResult, ...]
    refusals: tuple[dict[str, Any], ...]
    warnings: tuple[dict[str, Any], ...]
    names: dict[str, str]


@dataclass(frozen=True)
class Problems:
    """What the newest plan or apply left open: conflicts, drift, pending companies, deal errors, withheld."""

    run_id: int | None
    conflicts: tuple[dict[str, Any], ...] = ()
    drift: tuple[dict[str, Any], ...] = ()
    pending: tuple[dict[str, Any], ...] = ()
    errors: tuple[str, ...] = ()
    withheld: tuple[dict[str, Any], ...] = ()

    def counts(self) -> dict[str, int]:
        """How many of each."""
        return {k: len(getattr(self, k)) for k in ("conflicts", "drift", "pending", "errors", "withheld")}


@dataclass(frozen=True)
class Overview:
    """The front page: recent runs, each source's last success, the intake's depth, open problems."""

    runs: tuple[RunRow, ...]
    sources: dict[str, str]  # source → when its deals were last read by a successful apply
    intake: dict[str, int]  # events and companies waiting
    problems: dict[str, int]
    totals: dict[str, int] = field(default_factory=dict)  # known companies, owned overrides

    @property
    def health(self) -> str:
        """Argo CD's words: Degraded (the last run failed, or deals/overrides need a person), Progressing
        (a run is under way), Healthy, or Unknown (no run yet)."""
        if not self.runs:
            return "Unknown"
        last = self.runs[0]
        if last.status in ("failed", "interrupted", "refused") or self.problems.get("errors") \
                or self.problems.get("conflicts"):  # fmt: skip
            return "Degraded"
        return "Progressing" if last.status == "running" else "Healthy"

    @property
    def sync(self) -> str:
        """Synced when the newest plan or apply left nothing to change and no drift; else OutOfSync."""
        last = next((r for r in self.runs if r.command in PLANS), None)
        if last is None:
            return "Unknown"
        pending = last.command == "plan" and any(last.counts.get(k) for k in ("create", "update", "delete"))
        return "OutOfSync" if pending or self.problems.get("drift") or self.problems.get("withheld") else "Synced"


def run_row(r: RunRecord) -> RunRow:
    """A run record as page data."""
    assert r.id is not None
    summary = json.loads(r.summary_json)
    counts = {k: v for k, v in summary.items() if isinstance(v, int) and not isinstance(v, bool)}
    return RunRow(r.id, r.command, r.trigger, r.actor or "", r.status, r.started_at, r.finished_at, counts,
                  tuple(json.loads(r.errors_json)))  # fmt: skip


def runs_page(store: Store, *, before: str = "", status: str = "", trigger: str = "", actor: str = "") -> Page[RunRow]:
    """Runs newest first, PAGE at a time; `before` is the cursor of the previous page."""
    rows = store.runs_page(before=_int(before), limit=PAGE, status=status, trigger=trigger, actor=actor)
    more = len(rows) > PAGE
    shown = tuple(run_row(r) for r in rows[:PAGE])
    return Page(shown, str(shown[-1].id) if more else None)


def run_detail(store: Store, run_id: int) -> RunDetail | None:
    """One run with its changes (None when there is no such run)."""
    record = store.run(run_id)
    if record is None:
        return None
    summary = json.loads(record.summary_json)
    details = summary.get("details") if isinstance(summary.get("details"), dict) else {}
    names = (details or {}).get("names") or summary.get("names") or {}
    return RunDetail(run_row(record), tuple(store.run_changes(run_id)), tuple(summary.get("refusals", [])),
                     tuple((details or {}).get("warnings", [])), names)  # fmt: skip


def ledger_page(store: Store, *, after: str = "", company: str = "", feature: str = "") -> Page[LedgerRow]:
    """The ownership ledger, PAGE rows at a time, filtered by company (id or name) and feature id."""
    rows = store.ledger_page(after=_int(after), limit=PAGE, company=company.strip(), feature=feature.strip())
    more = len(rows) > PAGE
    return Page(tuple(rows[:PAGE]), str(rows[PAGE - 1].id) if more else None)


def ledger_batches(store: Store, *, company: str = "", feature: str = "") -> Iterator[list[LedgerRow]]:
    """Every ledger row the filters keep (the CSV export), in keyset batches."""
    return store.ledger_batches(company=company.strip(), feature=feature.strip())


def companies_page(store: Store, *, text: str = "", after: str = "") -> Page[CompanyRow]:
    """Known companies by name whose id, name or a key value matches `text`; `after` is `name\\tid`."""
    name, sep, ident = after.partition("\t")
    rows = store.companies_page(text=text.strip(), after=(name, ident) if sep else None, limit=PAGE)
    more = len(rows) > PAGE
    last = rows[PAGE - 1] if more else None
    return Page(tuple(rows[:PAGE]), f"{last.name}\t{last.id}" if last else None)


def problems(store: Store) -> Problems:
    """The open problems as the newest plan or apply that computed a plan saw them."""
    for record in store.runs(limit=20):
        if record.command not in PLANS:
            continue
        details = json.loads(record.summary_json).get("details")
        if not isinstance(details, dict):
            continue
        withheld = tuple(w for w in details.get("warnings", []) if w.get("withheld"))
        return Problems(record.id, tuple(details.get("conflicts", [])), tuple(details.get("drift", [])),
                        tuple(details.get("pending", [])), tuple(json.loads(record.errors_json)), withheld)  # fmt: skip
    return Problems(None)


def overview(store: Store, intake_store: IntakeStore) -> Overview:
    """The front page's data."""
    runs = tuple(run_row(r) for r in store.runs(limit=10))
    last = store.last_run(PLANS[1:], ("ok",))
    sources = {s: f"{last.started_at:%Y-%m-%d %H:%M} UTC" for s in store.source_counts()} if last else {}
    depth = intake_store.depth()
    intake = {"events": depth.events, "companies": depth.companies}
    return Overview(runs, sources, intake, problems(store).counts(), store.counts())


def _int(text: str) -> int | None:
    """A page cursor from a query string: ASCII digits that fit the database's integer, else none
    (`isdigit()` alone admits '²', which int() refuses, and a 5,000-digit value overflows)."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


class ConsoleData:
    """The console's reads over one state database (its intake view made once)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._intake: IntakeStore | None = None

    def overview(self) -> Overview:
        """The front page."""
        if self._intake is None:
            self._intake = IntakeStore(self.store.engine, self.store.url)
        return overview(self.store, self._intake)

    def runs(self, *, before: str = "", status: str = "", trigger: str = "", actor: str = "") -> Page[RunRow]:
        """A page of runs."""
        return runs_page(self.store, before=before, status=status, trigger=trigger, actor=actor)

    def run(self, run_id: int) -> RunDetail | None:
        """One run."""
        return run_detail(self.store, run_id)

    def ledger(self, *, after: str = "", company: str = "", feature: str = "") -> Page[LedgerRow]:
        """A page of the ledger."""
        return ledger_page(self.store, after=after, company=company, feature=feature)

    def ledger_batches(self, *, company: str = "", feature: str = "") -> Iterator[list[LedgerRow]]:
        """The whole filtered ledger, in batches."""
        return ledger_batches(self.store, company=company, feature=feature)

    def companies(self, *, text: str = "", after: str = "") -> Page[CompanyRow]:
        """A page of companies."""
        return companies_page(self.store, text=text, after=after)

    def company(self, company_id: str) -> CompanyRow | None:
        """One known company."""
        return self.store.company(company_id)

    def problems(self) -> Problems:
        """The open problems."""
        return problems(self.store)


def open_console_data(database_url: str) -> ConsoleData:
    """The console's reads over the state database at `database_url` (close with `.store.close()`)."""
    return ConsoleData(Store(database_url))
