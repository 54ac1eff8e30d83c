"""Hot reload: a running serve picks up an edited mapping file; an edit that does not validate is
rejected with its located problems logged, and the previous mappings stay in force."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from crmsync.cli.demo import sample_mappings
from crmsync.errors import ConfigError, ServiceUnavailable
from crmsync.mapping.rules import Mappings
from crmsync.serving.mapping_watch import LiveMappings


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the sample's mapping files."""
    target = tmp_path / "maps"
    shutil.copytree(sample_mappings(), target, ignore=shutil.ignore_patterns("tests"))
    return target


def seats_source(folder: Path) -> Path:
    return folder / "hubspot.yaml"


def test_an_edited_mapping_is_picked_up(folder: Path) -> None:
    """Changing the seats rule's property: the next call returns the new mappings."""
    live = LiveMappings(folder, interval=0)
    before = live()
    path = seats_source(folder)
    path.write_text(path.read_text().replace("from: seats_purchased", "from: seats_bought"))
    after = live()
    assert after is not before
    hubspot = next(f for f in after.files if f.source.value == "hubspot")
    assert any(r.source_property == "seats_bought" for r in hubspot.overrides)


def test_an_invalid_edit_is_rejected_with_located_problems_and_the_old_mappings_stay(folder: Path) -> None:
    """A typo in `type:`: the located problem is logged, the previous mappings are still served, and
    fixing the file makes the fix take effect."""
    live = LiveMappings(folder, interval=0)
    before = live()
    path = seats_source(folder)
    good = path.read_text()
    path.write_text(good.replace("type: numeric", "type: numbr", 1))
    with capture_logs() as logs:
        assert live() is before
        assert live() is before  # rejected once, not logged again on every look
    problems = [e for e in logs if e["event"] == "mappings.rejected"]
    assert len(problems) == 1 and f"{path}:" in problems[0]["problem"] and "numbr" in problems[0]["problem"]
    path.write_text(good.replace("from: seats_purchased", "from: seats_bought"))
    assert live() is not before


def test_no_change_means_no_reload(folder: Path) -> None:
    """Without an edit the same mappings object is served (a stat per look, no parse)."""
    live = LiveMappings(folder, interval=0)
    assert live() is live()


def test_a_valid_edit_the_vet_refuses_is_held_until_approved(folder: Path) -> None:
    """A valid edit `vet` judges too destructive stays out of force, with its reason, until `approve()`."""
    live = LiveMappings(folder, interval=0, vet=lambda _maps: "30 of 37 owned overrides would be deleted")
    before = live()
    path = seats_source(folder)
    path.write_text(path.read_text().replace("from: seats_purchased", "from: seats_bought"))
    with capture_logs() as logs:
        assert live() is before and live() is before
    assert [e["event"] for e in logs] == ["mappings.held"]  # once, not on every look
    assert live.held is not None and live.held.reason == "30 of 37 owned overrides would be deleted"
    assert live.approve() and live.held is None
    assert live() is not before and not live.approve()


def test_an_edit_that_cannot_be_judged_yet_is_judged_again_a_minute_later(folder: Path) -> None:
    """With a CRM down the edit is neither taken nor held: the old mappings stay, and a minute later it is
    judged again (and taken when the guards allow it)."""
    now = [0.0]
    answers: list[Exception | None] = [ServiceUnavailable("HubSpot", "timed out"), None]

    def vet(_maps: Mappings) -> str | None:
        answer = answers.pop(0)
        if answer is not None:
            raise answer
        return None

    live = LiveMappings(folder, interval=1.0, clock=lambda: now[0], vet=vet)
    before = live()
    path = seats_source(folder)
    path.write_text(path.read_text().replace("from: seats_purchased", "from: seats_bought"))
    now[0] = 1.0
    with capture_logs() as logs:
        assert live() is before
        now[0] = 30.0
        assert live() is before  # not judged again before the minute is out
    assert [e["event"] for e in logs] == ["mappings.unjudged"] and live.held is None
    now[0] = 62.0
    assert live() is not before and not answers


def test_an_edit_the_vet_cannot_run_is_rejected_once(folder: Path) -> None:
    """An edit naming what this serve cannot run (e.g. a CRM with no connector) is rejected, logged once."""

    def vet(_maps: Mappings) -> str | None:
        raise ConfigError("mapping files read salesforce, but no salesforce connector is configured")

    live = LiveMappings(folder, interval=0, vet=vet)
    before = live()
    path = seats_source(folder)
    path.write_text(path.read_text().replace("from: seats_purchased", "from: seats_bought"))
    with capture_logs() as logs:
        assert live() is before and live() is before
    assert [e["event"] for e in logs] == ["mappings.rejected", "mappings.kept"]
    assert live.held is None
