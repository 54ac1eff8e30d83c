"""Scenarios shared by the e2e tests: run the CLI, grow the sample to 20 owned overrides, make a
CRM look empty, write a mapping with policies, look at one override, crmsync's overrides or the
ledger, check that an apply writes nothing. Plain functions over a `Harness`; no test lives here."""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from click.testing import Result
from typer.testing import CliRunner

from crmsync.cli import app
from crmsync.cli.demo import sample_mappings
from crmsync.domain import LedgerState
from crmsync.store.repository import Store
from tests.e2e.conftest import Harness

runner = CliRunner()
OWNED = 20  # the scenarios grow the sample to this many owned overrides, so 6 deletes are 30%


def invoke(h: Harness, *args: str, env: dict[str, str] | None = None) -> Result:
    """Run `crmsync …` against the harness's sandbox, state database and mappings."""
    return runner.invoke(app, list(args), env={**h.env(), **(env or {})})


def edited_sample(tmp_path: Path, file: str = "", old: str = "", new: str = "", *, count: int = -1) -> Path:
    """A copy of the sample mappings (without their test cases) in `tmp_path`/maps, with `old` replaced
    by `new` in `file` (the first `count` times; -1: every time); `old` must be there."""
    maps = tmp_path / "maps"
    shutil.copytree(sample_mappings(), maps, ignore=shutil.ignore_patterns("tests"))
    if file:
        path = maps / file
        assert old in path.read_text()
        path.write_text(path.read_text().replace(old, new, count))
    return maps


def hubspot_only(h: Harness, tmp_path: Path) -> Harness:
    """The same sandbox and database with only the sample's HubSpot mapping file."""
    maps = tmp_path / "hubspot-only"
    maps.mkdir()
    shutil.copy(h.settings.mappings / "hubspot.yaml", maps / "hubspot.yaml")
    return Harness(h.sb, replace(h.settings, mappings=maps))


def hubspot_with(h: Harness, tmp_path: Path, top: str = "", seats: str = "") -> Harness:
    """Only the sample's HubSpot mapping, with `top` lines added to the file (e.g. `drift: keep`)
    and `seats` lines added to its seats rule (e.g. `drift: keep`)."""
    hub = hubspot_only(h, tmp_path)
    mapping = hub.settings.mappings / "hubspot.yaml"
    text = mapping.read_text()
    if seats:
        text = text.replace("from: seats_purchased\n", f"from: seats_purchased\n    {seats}\n", 1)
    mapping.write_text(text + top + ("\n" if top else ""))
    return hub


def the_override(h: Harness, company: str, feature: str) -> dict[str, Any]:
    """The one override a company has for a feature in the sandbox (fails if there are several)."""
    (record,) = h.sb.schematic.overrides_for(company, feature)
    return record


def ledger(h: Harness) -> dict[str, set[str]]:
    """The override ids in the harness's ledger: `active` ones and `released` ones."""
    store = Store(h.settings.database_url)
    try:
        return {
            "active": {o.override_id for o in store.owned() if o.override_id and o.status == "active"},
            "released": {o.override_id for o in store.released() if o.override_id},
        }
    finally:
        store.close()


def intents_left(h: Harness) -> int:
    """Unconfirmed create intents in the harness's ledger."""
    store = Store(h.settings.database_url)
    try:
        return sum(1 for o in store.owned() if o.status == LedgerState.INTENT)
    finally:
        store.close()


def assert_converged(h: Harness) -> None:
    """Each pair once, the ledger's active overrides exactly those carrying crmsync's note, no intent left."""
    assert set(overrides_per_pair(h).values()) == {1}
    noted = {i for i, r in h.sb.schematic.overrides.items() if carries_crmsync_note(r)}
    assert ledger(h)["active"] == noted
    assert intents_left(h) == 0


def add_seat_deals(h: Harness, count: int) -> list[str]:
    """`count` new companies in both systems, each with one won deal granting seats; their deal ids."""
    deal_ids = []
    for n in range(count):
        ref = str(6001 + n)
        h.sb.hubspot.add_company(ref, f"Company {ref}")
        h.sb.schematic.add_company(f"Company {ref}", {"hubspot_company_id": ref})
        properties = {
            "dealname": f"{ref} seats",
            "pipeline": "default",
            "dealstage": "closedwon",
            "closedate": "2026-05-01T12:00:00Z",
            "seats_purchased": "10",
        }
        deal_ids.append(h.sb.hubspot.add_deal(properties=properties, company_ids=[ref]))
    return deal_ids


def carries_crmsync_note(record: dict[str, Any]) -> bool:
    """Whether a sandbox override has a note crmsync wrote."""
    return any("crmsync" in n["note"] for n in record["notes"])


def crmsync_overrides(h: Harness) -> dict[str, dict[str, Any]]:
    """The sandbox's overrides carrying crmsync's note, by id."""
    return {i: r for i, r in h.sb.schematic.overrides.items() if carries_crmsync_note(r)}


def owned_by_crmsync(h: Harness) -> dict[tuple[str, str], dict[str, Any]]:
    """The sandbox's overrides carrying crmsync's note, by (company, feature)."""
    return {(r["company_id"], r["feature_id"]): r for r in crmsync_overrides(h).values()}


def written_values(h: Harness) -> dict[tuple[str, str], tuple[Any, ...]]:
    """crmsync's overrides in the sandbox as comparable values, by (company, feature)."""
    return {
        key: (r["value_type"], r.get("value_numeric"), r.get("value_bool"), r.get("metric_period"),
              r.get("expiration_date"))
        for key, r in owned_by_crmsync(h).items()
    }  # fmt: skip


def owned_count(h: Harness) -> int:
    """Overrides in the sandbox carrying crmsync's note."""
    return len(crmsync_overrides(h))


def overrides_per_pair(h: Harness) -> Counter[tuple[str, str]]:
    """How many overrides the sandbox holds for each (company, feature)."""
    return Counter((r["company_id"], r["feature_id"]) for r in h.sb.schematic.overrides.values())


def assert_next_apply_writes_nothing(h: Harness) -> None:
    """One more `apply --yes`: exit 0 and zero API writes."""
    writes = h.sb.schematic.write_count
    assert invoke(h, "apply", "--yes").exit_code == 0 and h.sb.schematic.write_count == writes


def grow_to_twenty_then_lose_six(h: Harness) -> None:
    """Apply the sample, add companies until crmsync owns 20 overrides, then move 6 of their deals to lost."""
    assert invoke(h, "apply", "--yes").exit_code == 0
    deals = add_seat_deals(h, OWNED - owned_count(h))
    assert invoke(h, "apply", "--yes").exit_code == 0 and owned_count(h) == OWNED
    for deal_id in deals[:6]:
        h.sb.hubspot.update_deal(deal_id, dealstage="closedlost")


def lose_every_deal(h: Harness) -> None:
    """Move every won HubSpot deal to a lost stage, as a broken CRM filter would make it look."""
    lost = {"closedwon": "closedlost", "ent_won": "ent_lost"}
    for deal_id, deal in list(h.sb.hubspot.deals.items()):
        stage = deal.properties.get("dealstage", "")
        if stage in lost:
            h.sb.hubspot.update_deal(deal_id, dealstage=lost[stage])
