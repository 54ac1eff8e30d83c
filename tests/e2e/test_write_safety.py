"""What an apply may write, on the sandbox: a create answered with a garbled body stays crmsync's,
and a CRM read that ended early (partial) downgrades nothing it drives."""

from __future__ import annotations

from crmsync.domain import Action
from tests.e2e.conftest import Harness
from tests.e2e.scenarios import crmsync_overrides, ledger

ACME_SF_OPP = "006000000000101AAA"
ACME_SEATS = ("comp_acme", "feat_seats")


def crmsync_ids(h: Harness) -> set[str]:
    """The ids of the sandbox's overrides carrying crmsync's note."""
    return set(crmsync_overrides(h))


def test_a_create_answered_with_a_body_that_is_not_json_stays_owned(harness: Harness) -> None:
    """The create was committed: found by its token and owned, never a conflict, never sent again."""
    harness.sb.schematic.garble_after_commit("POST", "/company-overrides")
    _, report = harness.apply()
    assert report.ok, report.failed
    assert crmsync_ids(harness) == ledger(harness)["active"] and len(crmsync_ids(harness)) == 10
    writes = harness.sb.schematic.write_count
    run, again = harness.apply()
    assert again.ok and run.plan.is_empty and harness.sb.schematic.write_count == writes
    assert not crmsync_ids(harness) & {c.live.id for c in run.plan.conflicts}


def test_a_partial_salesforce_read_withholds_the_downgrade_it_would_cause(harness: Harness) -> None:
    """Acme's seats are 70 from Salesforce; a read cut short makes them HubSpot's 50: withheld, nothing written."""
    harness.sb.salesforce.update_opportunity(ACME_SF_OPP, Seats__c=70)  # type: ignore[union-attr]
    assert harness.apply()[1].ok
    writes = harness.sb.schematic.write_count
    harness.sb.salesforce.fail_next(403, path_contains="/query")  # type: ignore[union-attr]  # REQUEST_LIMIT_EXCEEDED
    run, report = harness.apply()
    assert report.ok and harness.sb.schematic.write_count == writes
    assert [c for c in run.plan.changes if c.action is Action.UPDATE] == []
    (warning,) = [w for w in run.plan.warnings if str(w).startswith("salesforce read was partial")]
    assert "1 downgrade(s) of overrides it drives are withheld" in str(warning), warning
    (acme,) = harness.sb.schematic.overrides_for(*ACME_SEATS)
    assert acme["value_numeric"] == 70
