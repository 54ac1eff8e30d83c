"""The mapping files as the console shows them: the files in force with their validation status and
test-case results, and an edited file checked in their place (located problems, test results).

Offline and write-free: nothing here writes a mapping file (they stay in Git) or calls an API. The
console's Mappings page calls it; the plan preview of an edit is service/preview.py's (not here).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crmsync.domain import Source
from crmsync.errors import MappingError, Problem
from crmsync.mapping.cases import load_cases
from crmsync.mapping.loader import MAX_BYTES, load_mapping_text, read_capped, yaml_files
from crmsync.mapping.rules import MappingFile, Mappings
from crmsync.service.case_runner import run_case


@dataclass(frozen=True)
class CaseOutcome:
    """One test case's result: passed, or the differences."""

    file: str
    name: str
    passed: bool
    diff: tuple[str, ...]


@dataclass(frozen=True)
class FileStatus:
    """One mapping file: its name, text and problems (none: valid)."""

    name: str
    text: str
    problems: tuple[Problem, ...]

    @property
    def valid(self) -> bool:
        """No problem found."""
        return not self.problems


@dataclass(frozen=True)
class Review:
    """Mapping files checked together: each file's status, and the test cases run over them."""

    files: tuple[FileStatus, ...]
    cases: tuple[CaseOutcome, ...]
    case_problems: tuple[Problem, ...]  # a malformed case file

    @property
    def valid(self) -> bool:
        """Every file valid and every case passed."""
        return all(f.valid for f in self.files) and all(c.passed for c in self.cases) and not self.case_problems


def review_folder(folder: Path) -> Review:
    """The files in force in `folder`, each checked, and its test cases (`folder/tests`) run."""
    return _review(folder, {})


def edit_name(name: str) -> str:
    """The file name an edit is checked as: a bare *.yaml / *.yml name."""
    clean = Path(name.strip() or "edited.yaml").name
    return clean if Path(clean).suffix.lower() in (".yaml", ".yml") else f"{clean}.yaml"


def review_edit(folder: Path, name: str, text: str) -> Review:
    """`folder`'s files with file `name` replaced by `text` (or added), checked and tested as `review_folder`."""
    return _review(folder, {edit_name(name): text.replace("\r\n", "\n")})


def _review(folder: Path, edits: dict[str, str]) -> Review:
    texts: dict[str, str] = {}
    try:
        for path in yaml_files(folder):
            texts[path.name] = read_capped(path).decode("utf-8", errors="replace")
    except OSError:
        pass  # a missing folder: only the edit is checked
    texts |= edits
    statuses: list[FileStatus] = []
    parsed: list[MappingFile] = []
    for name in sorted(texts):
        text = texts[name]
        where = name if name in edits else str(folder / name)
        problems: tuple[Problem, ...] = ()
        if len(text.encode()) > MAX_BYTES:
            problems = (Problem(where, 1, 1, f"the file is over {MAX_BYTES} bytes", "split it into several files"),)
        else:
            try:
                parsed.append(load_mapping_text(text, where))
            except MappingError as exc:
                problems = tuple(exc.problems)
        statuses.append(FileStatus(name, text, problems))
    cases, case_problems = _run_cases(folder / "tests", Mappings(tuple(parsed)))
    return Review(tuple(statuses), cases, case_problems)


def _run_cases(folder: Path, mappings: Mappings) -> tuple[tuple[CaseOutcome, ...], tuple[Problem, ...]]:
    if not folder.is_dir() or not mappings.files:
        return (), ()
    sources = mappings.sources()
    default: Source | None = sources[0] if len(sources) == 1 else None
    try:
        files = load_cases(folder, default)
    except MappingError as exc:
        return (), tuple(exc.problems)
    outcomes = []
    for f in files:
        for case in f.cases:
            result = run_case(case, mappings, f)
            outcomes.append(CaseOutcome(Path(f.path).name, case.name, result.passed, result.diff))
    return tuple(outcomes), ()
