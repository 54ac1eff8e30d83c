"""The plan preview of a mapping edit: validate it, run its test cases, and say exactly what it would
change apart from what changes anyway; never writing to Schematic or to a mapping file.

`preview_mapping_edit(ctx, mappings, folder, name, text)` is called by the console's mapping editor
(and its tests). Its deals come from the deal snapshot every reconcile keeps current (a 50,000-deal
CRM is not read again per keystroke); without a snapshot that holds what the edit needs, it reads
the CRMs once (which fills the snapshot) and says so. The split is `service/edit.py`'s, as for
`plan --base`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePath
from typing import Any

from crmsync.connectors.base import PageSink, ReadResult
from crmsync.domain import Source
from crmsync.errors import MappingError, Problem
from crmsync.mapping.case_results import CaseResult
from crmsync.mapping.cases import load_cases
from crmsync.mapping.loader import SUFFIXES, load_mapping_text
from crmsync.mapping.rules import Mappings
from crmsync.service.case_runner import run_case
from crmsync.service.context import Context
from crmsync.service.edit import EditPlan, edit_plan
from crmsync.service.planning import build_plans
from crmsync.service.snapshot import Coverage, covers, feed
from crmsync.store.snapshot import SnapshotStore

IN_FORCE = "the mappings in force"


@dataclass(frozen=True)
class DataAge:
    """Where the preview's deals came from and how old they are."""

    from_snapshot: bool
    as_of: dict[Source, datetime]  # per CRM: when the deals it used were last read
    note: str  # a sentence for people: "deals from the snapshot, read 4 minutes ago" / why the CRMs were read

    def to_json(self) -> dict[str, Any]:
        """For the console and tests."""
        return {"from_snapshot": self.from_snapshot, "as_of": {s.value: t.isoformat() for s, t in self.as_of.items()},
                "note": self.note}  # fmt: skip


@dataclass(frozen=True)
class Preview:
    """A mapping edit judged: its problems (located), its test cases, and the plan it would make."""

    name: str
    problems: tuple[Problem, ...]
    cases: tuple[CaseResult, ...]
    edit: EditPlan | None  # None when the edit has problems: nothing can be planned from it
    data: DataAge | None

    @property
    def ok(self) -> bool:
        """True when the edit is valid and every test case passes."""
        return not self.problems and all(c.passed for c in self.cases)

    def to_json(self) -> dict[str, Any]:
        """Problems, cases, the edit's and the pending changes (with effective entitlements), data age."""
        doc = self.edit.to_json() if self.edit is not None else {}
        return {
            "name": self.name,
            "problems": [
                {"path": p.path, "line": p.line, "col": p.col, "message": p.message, "hint": p.hint}
                for p in self.problems
            ],
            "cases": [
                {"name": c.case.name, "passed": c.passed, "diff": list(c.diff), "notes": list(c.notes)}
                for c in self.cases
            ],
            "edit_changes": doc.get("edit_changes", []),
            "pending_changes": doc.get("pending_changes", []),
            "data": self.data.to_json() if self.data is not None else None,
        }


def preview_mapping_edit(ctx: Context, mappings: Mappings, folder: Path, name: str, text: str) -> Preview:
    """Judge `text` as the mapping file `name` of `folder` (new or replacing one) against `mappings`
    (those in force): problems, test cases, and the edit's changes apart from the pending ones."""
    path = str(Path(folder) / name)
    problems = _name_problems(name, path)
    if problems:
        return Preview(name, problems, (), None, None)
    try:
        edited = load_mapping_text(text, path)
    except MappingError as exc:
        return Preview(name, tuple(exc.problems), (), None, None)
    head = Mappings(tuple(sorted([*(f for f in mappings.files if f.path != path), edited], key=lambda f: f.path)))
    cases, case_problems = _cases(head, Path(folder))
    store = SnapshotStore(ctx.store.engine, ctx.store.url)
    joined = Mappings(head.files + mappings.files)
    coverage = covers(store, joined)
    now = ctx.clock()

    def from_snapshot(source: Source, sinks: Sequence[PageSink]) -> ReadResult:
        return feed(store, source, sinks)

    try:
        runs = build_plans(ctx, head, base=mappings, reader=from_snapshot if coverage.ok else None)
    except MappingError as exc:
        return Preview(name, tuple(sorted({*exc.problems, *case_problems})), cases, None, None)
    data = _age(coverage.ok, coverage, joined, now)
    return Preview(name, tuple(case_problems), cases, edit_plan(ctx, runs, IN_FORCE), data)


def _name_problems(name: str, path: str) -> tuple[Problem, ...]:
    """A file name the mapping folder can hold: one name, ending .yaml or .yml."""
    pure = PurePath(name)
    if name and pure.name == name and pure.suffix.lower() in SUFFIXES and not name.startswith("."):
        return ()
    hint = "give a file name directly in the mapping folder, e.g. hubspot.yaml"
    return (Problem(path, 1, 1, f"{name!r} is not a mapping file name", hint),)


def _cases(head: Mappings, folder: Path) -> tuple[tuple[CaseResult, ...], list[Problem]]:
    """The test cases of `folder/tests` run against the edited mappings (none when there is no folder)."""
    where = folder / "tests"
    if not where.is_dir():
        return (), []
    sources = head.sources()
    try:
        files = load_cases(where, sources[0] if len(sources) == 1 else None)
    except MappingError as exc:
        return (), list(exc.problems)
    return tuple(run_case(case, head, f) for f in files for case in f.cases), []


def _age(from_snapshot: bool, coverage: Coverage, joined: Mappings, now: datetime) -> DataAge:
    """How old the preview's deals are, in a sentence (from what `covers` read of the snapshot: no
    second query)."""
    if not from_snapshot:
        why = "; ".join(coverage.reasons)
        note = f"deals read from the CRMs just now ({why}); the next preview uses the deal snapshot"
        return DataAge(False, dict.fromkeys(joined.sources(), now), note)
    held = coverage.sources
    as_of = {s: held[s].updated_at for s in joined.sources() if s in held}
    parts = [f"{s.value} {_ago(now - t.astimezone(now.tzinfo))}" for s, t in sorted(as_of.items())]
    return DataAge(True, as_of, "deals from the deal snapshot, last read: " + ", ".join(parts))


def _ago(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"
