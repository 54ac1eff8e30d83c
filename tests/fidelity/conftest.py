"""The fidelity run, once per session, and its short report at the end of the terminal output.

The specs live in `<repo>/../shared/specs/` (as in CI) or $CRMSYNC_SPECS_DIR. Without them the
suite is skipped with the reason, except in CI (`CI` set), where that is a failure.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fidelity.allowlist import ALLOWED, allowed_by
from tests.fidelity.scenario import Recording, record
from tests.fidelity.specs import Mismatch, Validator, find_specs

_REPORT: list[str] = []


@dataclass
class Checked:
    """The fidelity run's outcome: what was validated and what differed."""

    recording: Recording
    validator: Validator
    operations: Counter[tuple[str, str]] = field(default_factory=Counter)  # (service, "METHOD /template")
    statuses: dict[str, set[int]] = field(default_factory=dict)
    unexpected: list[Mismatch] = field(default_factory=list)
    allowed: Counter[str] = field(default_factory=Counter)  # entry name → mismatches it accepted

    @property
    def pairs(self) -> int:
        """Request/response pairs validated."""
        return len(self.recording.hubspot) + len(self.recording.schematic)


def check_all(recording: Recording, validator: Validator) -> Checked:
    """Validate every recorded exchange; sort mismatches into allowed and unexpected."""
    checked = Checked(recording, validator)
    for service, exchanges in (("hubspot", recording.hubspot), ("schematic", recording.schematic)):
        for exchange in exchanges:
            operation, mismatches = validator.check(service, exchange)
            checked.operations[(service, operation)] += 1
            checked.statuses.setdefault(service, set()).add(exchange.status)
            for mismatch in mismatches:
                entry = allowed_by(mismatch)
                if entry is None:
                    checked.unexpected.append(mismatch)
                else:
                    checked.allowed[entry.name] += 1
    return checked


@pytest.fixture(scope="session")
def validator() -> Validator:
    """openapi-core over the vendors' specs (skipped without them, failing in CI)."""
    folder = find_specs()
    if folder is None:
        where = os.environ.get("CRMSYNC_SPECS_DIR") or "../shared/specs beside the repository"
        if os.environ.get("CI"):
            pytest.fail(f"the vendors' OpenAPI specs are missing ({where}); the fidelity suite needs them in CI")
        pytest.skip(f"the vendors' OpenAPI specs are not here ({where}); set CRMSYNC_SPECS_DIR to run")
    return Validator(folder)


@pytest.fixture(scope="session")
def fidelity(validator: Validator, tmp_path_factory: pytest.TempPathFactory) -> Checked:
    """The dedicated run, recorded and validated once for the whole suite."""
    checked = check_all(record(Path(tmp_path_factory.mktemp("fidelity"))), validator)
    served = sorted(op for op in checked.operations if not op[1].startswith("(unserved)"))
    _REPORT[:] = [
        f"endpoints covered: {len(served)} "
        f"(HubSpot {sum(1 for s, _ in served if s == 'hubspot')}, "
        f"Schematic {sum(1 for s, _ in served if s == 'schematic')}), plus unserved routes",
        f"pairs validated: {checked.pairs} (statuses: "
        + "; ".join(f"{s} {sorted(v)}" for s, v in sorted(checked.statuses.items()))
        + ")",
        f"deviations allowed: {len(ALLOWED)} entries, {sum(checked.allowed.values())} mismatches accepted ("
        + ", ".join(f"{name} {n}" for name, n in sorted(checked.allowed.items()))
        + ")",
        f"new mismatches: {len(checked.unexpected)}",
    ]
    return checked


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the fidelity report when the suite ran."""
    if _REPORT:
        terminalreporter.section("fidelity to the vendors' OpenAPI specs")
        for line in _REPORT:
            terminalreporter.write_line(line)
