"""The plan preview of a mapping edit (the console's editor), against the sandbox: located problems,
test cases, the edit's changes apart from pending ones, zero writes, and the deal snapshot."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from crmsync.app import mapped_context
from crmsync.domain import CompanyId, Source, Trigger
from crmsync.service.preview import Preview, preview_mapping_edit
from crmsync.service.reconcile import Mode, Request
from crmsync.store.repository import Store
from crmsync.store.snapshot import DEALS, SnapshotStore
from tests.e2e.conftest import Harness

SSO_RULE = """  - feature: SSO
    type: boolean
    value: true
    when:
      sso_addon: ["true", "yes"]
"""


def preview(h: Harness, text: str, name: str = "hubspot.yaml") -> Preview:
    """Preview `text` as mapping file `name` through the real service and edges."""
    with mapped_context(h.settings.mappings, h.settings) as (ctx, maps):
        return preview_mapping_edit(ctx, maps, h.settings.mappings, name, text)


def writes(h: Harness) -> int:
    """Requests to Schematic that could change something."""
    return sum(1 for r in h.sb.schematic.requests if r.method != "GET")


def hubspot_text(h: Harness) -> str:
    """The HubSpot mapping file in force."""
    return (h.settings.mappings / "hubspot.yaml").read_text()


@pytest.fixture
def applied(harness: Harness) -> Iterator[Harness]:
    """The sample applied (which fills the deal snapshot), then Initech buys 300 seats (pending), which a
    plan reads (as serve's polls and webhooks would), keeping the snapshot current."""
    _, report = harness.apply()
    assert report.ok
    harness.sb.hubspot.update_deal("1006", seats_purchased="300")
    harness.plan()
    yield harness


def test_a_valid_edit_shows_its_changes_apart_from_pending_ones(applied: Harness) -> None:
    """Dropping HubSpot's SSO rule: SSO deletes are the edit's; Initech's 300 seats are not."""
    result = preview(applied, hubspot_text(applied).replace(SSO_RULE, ""))
    doc = result.to_json()
    assert result.problems == () and result.edit is not None
    assert doc["edit_changes"] and {(c["action"], c["feature_id"]) for c in doc["edit_changes"]} == {
        ("delete", "feat_sso")
    }
    assert all(c["effective_before"] and c["effective_after"] for c in doc["edit_changes"])
    pending = [(c["company_id"], c["feature_id"]) for c in doc["pending_changes"]]
    assert ("comp_initech", "feat_seats") in pending and all(f != "feat_sso" for _, f in pending)


def test_the_preview_never_writes_to_schematic_nor_the_mapping_file(applied: Harness) -> None:
    """Zero write calls to Schematic, and the file on disk is as it was."""
    before, text = writes(applied), hubspot_text(applied)
    preview(applied, text.replace(SSO_RULE, ""))
    preview(applied, text.replace("feature: seats", "feature: seatz"))
    assert writes(applied) == before and hubspot_text(applied) == text


def test_a_typo_is_a_located_problem_and_no_plan(applied: Harness) -> None:
    """An unknown feature: a problem at its line and column naming the file, and no plan."""
    text = hubspot_text(applied).replace("feature: seats", "feature: seatz")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "seatz" in t)
    result = preview(applied, text)
    assert result.edit is None and result.problems
    problem = result.problems[0]
    assert problem.path.endswith("hubspot.yaml") and problem.line == line and "seatz" in problem.message


def test_a_yaml_error_is_located(applied: Harness) -> None:
    """Broken YAML: a problem with a line, no plan."""
    result = preview(applied, "source: hubspot\ndeals: [\n")
    assert result.edit is None and result.problems and result.problems[0].line >= 2


def test_the_test_cases_run_against_the_edit(applied: Harness) -> None:
    """The sample's cases pass for the file in force and some fail once SSO is dropped."""
    assert preview(applied, hubspot_text(applied)).cases and preview(applied, hubspot_text(applied)).ok
    dropped = preview(applied, hubspot_text(applied).replace(SSO_RULE, ""))
    assert any(not c.passed for c in dropped.cases) and not dropped.ok


def test_the_preview_reads_the_snapshot_not_the_crm(applied: Harness) -> None:
    """After an apply the preview's deals come from the snapshot: no HubSpot deal search, and it says how old."""
    searches = len([r for r in applied.sb.hubspot.requests if "search" in r.path])
    result = preview(applied, hubspot_text(applied).replace(SSO_RULE, ""))
    assert result.data is not None and result.data.from_snapshot
    assert "deals from the deal snapshot, last read: hubspot" in result.data.note
    assert len([r for r in applied.sb.hubspot.requests if "search" in r.path]) == searches


def test_without_a_snapshot_the_preview_reads_once_and_says_so(harness: Harness) -> None:
    """A fresh state database: the first preview reads the CRMs and says so; the second uses the snapshot."""
    first = preview(harness, hubspot_text(harness))
    assert first.data is not None and not first.data.from_snapshot
    assert "read from the CRMs just now" in first.data.note and "no complete read" in first.data.note
    second = preview(harness, hubspot_text(harness))
    assert second.data is not None and second.data.from_snapshot


def test_the_snapshot_follows_the_deals(applied: Harness) -> None:
    """A plan after a deal change rewrites that deal's row only, and the preview then sees the change;
    until a read, the preview shows the snapshot as it was."""
    state = Store(applied.settings.database_url)
    store = SnapshotStore(state.engine)
    before = _rows(store)
    applied.sb.hubspot.update_deal("1006", seats_purchased="250")  # back as applied: nothing pending
    stale = preview(applied, hubspot_text(applied))
    assert stale.edit is not None and len(stale.edit.split.pending) == 1  # the snapshot has not seen it yet
    applied.plan()
    after = _rows(store)
    state.close()
    assert {k for k in after if after[k] != before.get(k)} == {("hubspot", "1006")}
    result = preview(applied, hubspot_text(applied))
    assert result.edit is not None and result.edit.split.pending == () and result.edit.split.edit == ()


def test_an_edit_needing_a_property_the_snapshot_lacks_reads_the_crm(applied: Harness) -> None:
    """A rule reading a property no read fetched: the preview reads the CRM, and says why."""
    text = hubspot_text(applied) + "  - feature: seats\n    type: numeric\n    from: amount\n"
    result = preview(applied, text.replace("combine: max\n", "") + "combine: max\n")
    assert result.data is not None and not result.data.from_snapshot, result.problems
    assert "does not hold properties amount" in result.data.note


def _rows(store: SnapshotStore) -> dict[tuple[str, str], tuple[int, object]]:
    """(source, deal id) → (digest, seen_at) of every snapshot row."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(DEALS.c.source, DEALS.c.deal_id, DEALS.c.digest, DEALS.c.seen_at)).all()
    assert any(r.source == Source.HUBSPOT.value for r in rows)
    return {(r.source, r.deal_id): (r.digest, r.seen_at) for r in rows}


def test_a_scoped_reconcile_keeps_the_snapshot_current(applied: Harness) -> None:
    """A reconcile of one company (as serve's webhooks run) refreshes that company's deals in the snapshot."""
    applied.sb.hubspot.update_deal("1006", seats_purchased="275")
    stale = preview(applied, hubspot_text(applied))
    assert stale.edit is not None
    assert _pending_seats(stale) == 300  # the snapshot still holds the last read
    applied.reconcile(Request(Trigger.MANUAL, Mode.PLAN, scope=frozenset({CompanyId("comp_initech")})))
    fresh = preview(applied, hubspot_text(applied))
    assert _pending_seats(fresh) == 275


def _pending_seats(result: Preview) -> int:
    """Initech's seats in the preview's pending changes."""
    assert result.edit is not None
    (change,) = [c for c in result.edit.split.pending if c.company_id == "comp_initech"]
    assert change.after is not None and change.after.value.value_numeric is not None
    return change.after.value.value_numeric
