"""The ledger can be rebuilt from Schematic and is never silently empty (sandbox, real SDKs):
updates keep crmsync's marker, `crmsync ledger rebuild` after the database file is lost restores
the same rows, and a plan against a new, empty ledger says so loudly; apply refuses it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text

from crmsync.reconcile.note import note_token
from crmsync.store.repository import Store
from tests.databases import postgres_schema
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import add_seat_deals, invoke, the_override

HOOLI = ("comp_hooli", "feat_seats")


def rows(h: Harness) -> set[tuple[str, str, str | None, str, tuple[str, ...], str]]:
    """The ledger's active rows: company, feature, override id, token, sources, value last applied."""
    store = Store(h.settings.database_url)
    try:
        return {
            (o.company_id, o.feature_id, o.override_id, o.token, o.sources, json.dumps(o.last_applied, sort_keys=True))
            for o in store.owned()
        }
    finally:
        store.close()


def lose_the_database(h: Harness, tmp_path: Path) -> None:
    """Delete the state database file (and SQLite's journal files beside it)."""
    for path in tmp_path.glob("state.db*"):
        path.unlink()


@pytest.fixture
def applied(harness: Harness) -> Harness:
    """The sample applied, then a deal change applied as an update (Hooli's seats)."""
    assert invoke(harness, "apply", "--yes").exit_code == 0
    harness.sb.hubspot.update_deal("1010", seats_purchased="90")
    result = invoke(harness, "apply", "--yes")
    assert result.exit_code == 0 and "update" in result.output.lower(), result.output
    return harness


def test_an_update_keeps_crmsyncs_marker_with_the_original_token(applied: Harness) -> None:
    """The note an update writes carries the token of the override's ledger row."""
    record = the_override(applied, *HOOLI)
    [token] = {r[3] for r in rows(applied) if r[2] == record["id"]}
    assert len(record["notes"]) >= 2 and note_token(record["notes"][-1]["note"]) == token


def test_a_ledger_rebuilt_after_the_database_is_lost_equals_the_lost_one(applied: Harness, tmp_path: Path) -> None:
    """Same pairs, ids, tokens, sources and values; zero Schematic writes; the next plan is empty."""
    before = rows(applied)
    lose_the_database(applied, tmp_path)
    writes = applied.sb.schematic.write_count
    result = invoke(applied, "ledger", "rebuild")
    assert result.exit_code == 0, result.output
    assert f"{len(before)} override(s) restored" in result.output
    assert rows(applied) == before and applied.sb.schematic.write_count == writes
    plan = applied.plan().plan
    assert plan.is_empty and not any("marker" in w for w in plan.warnings)
    assert invoke(applied, "apply", "--yes").exit_code == 0 and applied.sb.schematic.write_count == writes


def test_a_rebuild_keeps_a_released_and_hand_edited_override_released(applied: Harness, tmp_path: Path) -> None:
    """Released, then edited by a person; the database is lost: the rebuild restores it released (its
    release note says so), the next plan is empty and apply leaves the person's value alone."""
    override_id = the_override(applied, *HOOLI)["id"]
    assert invoke(applied, "release", override_id).exit_code == 0
    applied.sb.schematic.update_override(override_id, {"value_numeric": 500, "note": "raised by Sam for the pilot"})
    lose_the_database(applied, tmp_path)
    result = invoke(applied, "ledger", "rebuild")
    assert result.exit_code == 0, result.output
    store = Store(applied.settings.database_url)
    try:
        assert [o.override_id for o in store.released()] == [override_id]
        assert override_id not in {o.override_id for o in store.owned()}
    finally:
        store.close()
    writes = applied.sb.schematic.write_count
    plan = applied.plan().plan
    assert plan.is_empty, plan.changes
    assert [c.live.id for c in plan.released] == [override_id]
    assert invoke(applied, "apply", "--yes").exit_code == 0
    assert applied.sb.schematic.write_count == writes and the_override(applied, *HOOLI)["value_numeric"] == 500


def test_a_rebuild_is_idempotent_and_leaves_unmarked_overrides_unowned(applied: Harness, tmp_path: Path) -> None:
    """A second rebuild restores nothing; the manual Globex override (no marker) is never taken."""
    lose_the_database(applied, tmp_path)
    first = json.loads(invoke(applied, "ledger", "rebuild", "--json").stdout)
    second = json.loads(invoke(applied, "ledger", "rebuild", "--json").stdout)
    assert first["restored"] and second["restored"] == []
    assert sorted(second["already_known"]) == sorted(r["override_id"] for r in first["restored"])
    globex = the_override(applied, "comp_globex", "feat_seats")["id"]
    assert second["unmarked"] >= 1 and globex not in {r[2] for r in rows(applied)}
    assert second["database"] == f"sqlite:///{tmp_path / 'state.db'}"


def test_a_plan_on_an_empty_ledger_says_so_and_apply_refuses(applied: Harness, tmp_path: Path) -> None:
    """Another (new) state database facing crmsync's overrides: one loud warning naming it instead of a
    conflict per override; apply exits 3 and writes nothing."""
    other = replace(applied, settings=replace(applied.settings, database_url=f"sqlite:///{tmp_path}/other.db"))
    owned = len(rows(applied))
    result = invoke(other, "plan")
    assert result.exit_code == 0
    assert f"the ledger at sqlite:///{tmp_path / 'other.db'} is empty but {owned} override(s)" in result.output
    assert "1 conflict" in result.output and result.output.count("adoptable:") == 1  # only the manual Globex one
    assert "apply would refuse this plan" in result.output
    writes = other.sb.schematic.write_count
    refused = invoke(other, "apply", "--yes")
    assert refused.exit_code == 3 and "crmsync ledger rebuild" in refused.output
    add_seat_deals(other, 1)  # a plan with a create is refused as well
    refused = invoke(other, "apply", "--yes")
    assert refused.exit_code == 3 and "1 to create" in refused.output and "crmsync ledger rebuild" in refused.output
    assert other.sb.schematic.write_count == writes


def test_a_ledger_rebuilt_on_postgresql_equals_the_lost_one(harness: Harness) -> None:
    """The same on PostgreSQL: the ledger's schema is dropped and made again, rebuild restores every row."""
    with postgres_schema("l") as (url, schema, admin):
        h = replace(harness, settings=replace(harness.settings, database_url=url))
        assert invoke(h, "apply", "--yes").exit_code == 0
        before = rows(h)
        with admin.begin() as conn:
            conn.execute(text(f"drop schema {schema} cascade; create schema {schema}"))
        assert rows(h) == set()
        assert invoke(h, "ledger", "rebuild").exit_code == 0
        assert rows(h) == before and h.plan().plan.is_empty
