"""Each command loads its settings once (cli/session.py) and passes them down: `plan --out` and
`apply --yes` read the environment and the config file one time, and a new invocation reads them anew."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmsync import settings as settings_module
from crmsync.settings import Settings
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import invoke


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """Every Settings `load_settings` returns, in order (crmsync's own function, wrapped to count)."""
    made: list[Settings] = []
    real = settings_module.load_settings

    def counted(environ: object = None) -> Settings:
        loaded = real(environ)  # type: ignore[arg-type]
        made.append(loaded)
        return loaded

    monkeypatch.setattr(settings_module, "load_settings", counted)
    return made


def test_a_command_loads_its_settings_once(harness: Harness, tmp_path: Path, loads: list[Settings]) -> None:
    """plan --out, then apply --yes: one load each."""
    assert invoke(harness, "plan", "--out", str(tmp_path / "plan.json")).exit_code == 0
    assert len(loads) == 1
    assert invoke(harness, "apply", "--yes").exit_code == 0
    assert len(loads) == 2


def test_a_new_invocation_sees_a_changed_environment(harness: Harness, loads: list[Settings]) -> None:
    """The settings of one invocation never leak into the next (tests run many in one process)."""
    invoke(harness, "status", env={"CRMSYNC_LOCK_WAIT": "1"})
    invoke(harness, "status", env={"SCHEMATIC_API_URL": "http://127.0.0.1:9"})
    assert len(loads) == 2 and loads[1].schematic.url == "http://127.0.0.1:9" != loads[0].schematic.url
