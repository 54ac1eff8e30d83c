"""An update whose answer is lost (the connection drops after Schematic committed it, or a 5xx comes
back after the commit) is settled at the next run by reading Schematic, never guessed: the ledger
records the value that is live, and no hand edit is reported where there was none."""

from __future__ import annotations

from pathlib import Path

from crmsync.sandbox.faults import Mode
from crmsync.store.repository import Store
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import hubspot_with, invoke, the_override

HOOLI_DEAL = "1010"


def ledger_row(h: Harness, override_id: str) -> tuple[dict[str, object], dict[str, object]]:
    """(last applied, pending) of one override's ledger row."""
    store = Store(h.settings.database_url)
    try:
        row = next(o for o in store.owned() if o.override_id == override_id)
        return dict(row.last_applied), dict(row.pending)
    finally:
        store.close()


def test_an_update_whose_answer_is_lost_is_settled_from_schematic_at_the_next_run(
    harness: Harness, tmp_path: Path
) -> None:
    """drift: keep: the lost update went through, so the next run records 90 as applied; no drift, no write."""
    hub = hubspot_with(harness, tmp_path, top="drift: keep")
    assert invoke(hub, "apply", "--yes").exit_code == 0
    override_id = the_override(hub, "comp_hooli", "feat_seats")["id"]
    hub.sb.hubspot.update_deal(HOOLI_DEAL, seats_purchased="90")
    hub.sb.faults.schematic.add(Mode.RESET_AFTER, method="PUT", path="/company-overrides", times=10)
    failed = invoke(hub, "apply", "--yes")
    assert failed.exit_code == 1, failed.output
    hub.sb.faults.clear()
    assert the_override(hub, "comp_hooli", "feat_seats")["value_numeric"] == 90  # Schematic did change
    last, pending = ledger_row(hub, override_id)
    assert last["value_numeric"] != 90 and pending["value_numeric"] == 90  # unknown, not guessed
    plan = hub.plan()
    assert plan.plan.drift == () and plan.plan.is_empty  # 90 is what the deals want, and no hand edit
    writes = hub.sb.schematic.write_count
    assert invoke(hub, "apply", "--yes").exit_code == 0 and hub.sb.schematic.write_count == writes
    last, pending = ledger_row(hub, override_id)
    assert last["value_numeric"] == 90 and pending == {}


def test_an_update_that_never_reached_schematic_is_sent_again(harness: Harness, tmp_path: Path) -> None:
    """The connection drops before the commit: the value stays, pending is cleared, the update is redone."""
    hub = hubspot_with(harness, tmp_path, top="drift: keep")
    assert invoke(hub, "apply", "--yes").exit_code == 0
    override_id = the_override(hub, "comp_hooli", "feat_seats")["id"]
    hub.sb.hubspot.update_deal(HOOLI_DEAL, seats_purchased="91")
    hub.sb.faults.schematic.add(Mode.RESET_BEFORE, method="PUT", path="/company-overrides", times=10)
    assert invoke(hub, "apply", "--yes").exit_code == 1
    hub.sb.faults.clear()
    assert the_override(hub, "comp_hooli", "feat_seats")["value_numeric"] != 91
    assert invoke(hub, "apply", "--yes").exit_code == 0
    assert the_override(hub, "comp_hooli", "feat_seats")["value_numeric"] == 91
    last, pending = ledger_row(hub, override_id)
    assert last["value_numeric"] == 91 and pending == {}
