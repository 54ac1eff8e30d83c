"""The `crmsync` command as users run it: exit codes, one-line errors, no writes on bad input."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from crmsync.cli import app
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import invoke, runner

BAD_MAPPING = """\
source: hubspot
deals:
  stages: [closedwon]
company:
  key: hubspot_company_id
overrides:
  - feature: Seatz
    type: numeric
    from: seats_purchased
"""


def test_plan_prints_the_table_and_summary(harness: Harness) -> None:
    """`crmsync plan` shows + rows and a summary line, and exits 0."""
    result = invoke(harness, "plan")
    assert result.exit_code == 0, result.output
    assert (
        "Plan: 10 to create, 0 to update, 0 to delete; 1 conflict, 2 pending companies, 3 deal errors." in result.output
    )


def test_plan_names_a_deal_errors_rule_file_relative_never_absolute(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deal error's rule: relative to the mappings folder when it is elsewhere (the sample's, in the
    installed package), relative to the current directory when under it; --json keeps the full path."""
    monkeypatch.chdir(tmp_path)  # the sample's folder is not under it
    result = invoke(harness, "plan")
    assert "(rule hubspot.yaml:10, feature 'seats')" in result.output, result.output
    assert str(harness.settings.mappings) not in result.output
    shutil.copytree(harness.settings.mappings, tmp_path / "repo" / "mappings")
    monkeypatch.chdir(tmp_path / "repo")
    result = invoke(harness, "plan", "--mappings", str(tmp_path / "repo" / "mappings"))
    assert "(rule mappings/hubspot.yaml:10, feature 'seats')" in result.output, result.output
    doc = json.loads(invoke(harness, "plan", "--json").stdout)
    assert {e["rule"] for e in doc["errors"] if e["rule"]} >= {f"{harness.settings.mappings}/hubspot.yaml:10"}


def test_plan_json_is_one_object(harness: Harness) -> None:
    """`crmsync plan --json` prints one parseable JSON object."""
    result = invoke(harness, "plan", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["summary"] == {"create": 10, "update": 0, "delete": 0}


def test_apply_yes_applies_and_exits_zero_then_nothing_is_left(harness: Harness) -> None:
    """`crmsync apply --yes` applies every change; a second run has nothing to do."""
    assert invoke(harness, "apply", "--yes").exit_code == 0
    writes = harness.sb.schematic.write_count
    second = invoke(harness, "apply", "--yes")
    assert second.exit_code == 0 and "No changes" in second.output
    assert harness.sb.schematic.write_count == writes


def test_apply_without_yes_on_a_non_interactive_input_applies_nothing(harness: Harness) -> None:
    """Without --yes and without a terminal to ask on, apply writes nothing and says why."""
    result = invoke(harness, "apply")
    assert result.exit_code == 1 and "--yes" in result.output
    assert harness.sb.schematic.write_count == 0


def test_a_bad_mapping_exits_2_with_a_located_error_and_writes_nothing(harness: Harness, tmp_path: Path) -> None:
    """An unknown feature: file:line:col with a hint, exit 2, zero API writes, no traceback."""
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "hubspot.yaml").write_text(BAD_MAPPING)
    result = invoke(harness, "apply", "--yes", "--mappings", str(tmp_path / "maps"))
    assert result.exit_code == 2
    assert f"{tmp_path}/maps/hubspot.yaml:7:14: " in result.output and "Seats" in result.output
    assert "Traceback" not in result.output
    assert harness.sb.schematic.write_count == 0


def test_garbled_yaml_exits_2_before_any_call(harness: Harness, tmp_path: Path) -> None:
    """YAML that does not parse stops the run before anything is read or written."""
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "x.yaml").write_text("source: hubspot\ndeals: [unclosed\n")
    result = invoke(harness, "plan", "--mappings", str(tmp_path / "maps"))
    assert result.exit_code == 2 and "x.yaml:" in result.output
    assert harness.sb.schematic.requests == [] and harness.sb.hubspot.requests == []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_schematic_is_one_line_naming_the_setting(harness: Harness) -> None:
    """Schematic unreachable: one line naming the service and SCHEMATIC_API_URL; nothing written."""
    result = invoke(harness, "apply", "--yes", env={"SCHEMATIC_API_URL": f"http://127.0.0.1:{free_port()}"})
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Schematic API" in lines[0] and "SCHEMATIC_API_URL" in lines[0]


def test_rejected_hubspot_token_names_the_variable_and_never_the_secret(harness: Harness) -> None:
    """A rejected HubSpot token: one line naming HUBSPOT_ACCESS_TOKEN, without the token itself."""
    secret = "pat-na1-this-is-secret"
    result = invoke(harness, "apply", "--yes", env={"HUBSPOT_ACCESS_TOKEN": secret})
    assert result.exit_code == 1 and "HUBSPOT_ACCESS_TOKEN" in result.output and secret not in result.output
    assert harness.sb.schematic.write_count == 0


def test_a_failed_run_changes_only_the_run_history(harness: Harness) -> None:
    """After a rejected HubSpot token the ledger and baselines are exactly as before; the history gains
    one failed run naming the variable (never the token)."""
    assert invoke(harness, "apply", "--yes").exit_code == 0
    before = dump_state(harness)
    assert invoke(harness, "apply", "--yes", env={"HUBSPOT_ACCESS_TOKEN": "wrong-secret"}).exit_code == 1
    after = dump_state(harness)
    added = [row for row in after if row not in before]
    assert [row for row in before if row not in after] == []
    (run,) = added
    assert run[0] == "runs" and "failed" in run
    assert "HUBSPOT_ACCESS_TOKEN" in str(run) and "wrong-secret" not in str(run)


def dump_state(h: Harness) -> list[tuple[object, ...]]:
    """Every row of every table of the state database but the rate buckets (calls made, failed or not)."""
    engine = create_engine(h.settings.database_url)
    try:
        with engine.connect() as conn:
            tables = [
                r[0]
                for r in conn.execute(text("select name from sqlite_master where type='table' order by name"))
                if r[0] != "rate_buckets"
            ]
            return [(t, *row) for t in tables for row in conn.execute(text(f"select * from {t}"))]
    finally:
        engine.dispose()


def test_rejected_schematic_key_names_the_variable_and_never_the_secret(harness: Harness) -> None:
    """A rejected Schematic key: one line naming SCHEMATIC_API_KEY, without the key itself."""
    secret = "sch_dev_secret_value"
    result = invoke(harness, "plan", env={"SCHEMATIC_API_KEY": secret})
    assert result.exit_code == 1 and "SCHEMATIC_API_KEY" in result.output and secret not in result.output


def test_a_missing_secret_names_the_variable(harness: Harness) -> None:
    """No HUBSPOT_ACCESS_TOKEN at all: exit 2 naming it."""
    result = invoke(harness, "plan", env={"HUBSPOT_ACCESS_TOKEN": ""})
    assert result.exit_code == 2 and "HUBSPOT_ACCESS_TOKEN is not set" in result.output


def test_unreachable_state_database_changes_nothing(harness: Harness) -> None:
    """A state database that cannot be opened: one line naming CRMSYNC_DATABASE_URL, no password, no writes."""
    url = f"postgresql+psycopg://crmsync:hunter2@127.0.0.1:{free_port()}/x"
    result = invoke(harness, "apply", "--yes", env={"CRMSYNC_DATABASE_URL": url})
    assert result.exit_code == 1 and "CRMSYNC_DATABASE_URL" in result.output and "hunter2" not in result.output
    assert harness.sb.schematic.write_count == 0


def test_demo_runs_plan_apply_plan_and_passes() -> None:
    """`crmsync demo` ends with an empty second plan and the manual override untouched."""
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "Demo passed" in result.output and "No changes" in result.output


def test_status_lists_the_runs(harness: Harness) -> None:
    """Every plan and apply is recorded and `crmsync status` lists them."""
    invoke(harness, "apply", "--yes")
    result = invoke(harness, "status", "--json")
    assert [r["command"] for r in json.loads(result.stdout)["runs"]][:1] == ["apply"]
