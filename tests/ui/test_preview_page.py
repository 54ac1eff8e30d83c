"""The Mappings editor's plan preview over the sample after a real apply, served by uvicorn: a valid
edit shows the exact changes it would cause with what the customer can use before → after, apart
from what changes anyway, and how old its deals are; it writes nothing to Schematic or the folder."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from crmsync.cli.demo import sample_mappings
from tests.e2e.conftest import Harness
from tests.ui.conftest import World

SSO_RULE = '  - feature: SSO\n    type: boolean\n    value: true\n    when:\n      sso_addon: ["true", "yes"]\n'


def hubspot() -> str:
    """The sample's HubSpot mapping file, as in force."""
    return (sample_mappings() / "hubspot.yaml").read_text()


def rows(page: str, kind: str) -> list[list[str]]:
    """The plain-text cells of each row of the preview's `edit` or `pending` table."""
    table = page[page.index(f'<table class="changes {kind}">') :]
    table = table[table.index("<tbody>") : table.index("</table>")]
    return [[" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
            for r in re.findall(r"<tr>(.*?)</tr>", table, re.S)]  # fmt: skip


def writes(world: World) -> int:
    """Requests to Schematic that could change something (the emulator records every request)."""
    return sum(1 for r in world.sb.schematic.requests if r.method != "GET")


def listing(folder: Path) -> dict[str, float]:
    """Every file below `folder` and when it was last written."""
    return {str(p): p.stat().st_mtime for p in folder.rglob("*")}


def test_a_valid_edit_shows_its_changes_with_effective_entitlements(viewer: httpx.Client, world: World) -> None:
    """Dropping HubSpot's SSO rule deletes Umbrella's SSO override: the customer goes from `on` (override) to
    the Starter plan's `off`; the preview says where its deals came from, and writes nothing anywhere."""
    assert SSO_RULE in hubspot()
    before_writes, before_files = writes(world), listing(sample_mappings())
    page = viewer.post("/mappings/check", data={"name": "hubspot.yaml", "text": hubspot().replace(SSO_RULE, "")}).text
    edit = {(r[0], r[1], r[2]): r for r in rows(page, "edit")}
    umbrella = edit[("delete", "Umbrella", "SSO")]
    assert umbrella[3] == "on → none"
    assert umbrella[4].startswith("on from override cmov_") and umbrella[4].endswith("→ off from plan Starter")
    assert all(feature == "SSO" for _, _, feature in edit)
    assert re.search(r'<p class="age">deals from the deal snapshot, last read: hubspot \d+ s ago', page)
    assert writes(world) == before_writes and listing(sample_mappings()) == before_files


def test_what_changes_anyway_is_listed_apart_from_the_edit(viewer: httpx.Client, world: World) -> None:
    """Initech buys 300 seats in HubSpot and a plan reads it (as serve's polls would): with an edit that
    changes nothing, that update is listed as happening anyway (250 → 300 from the override), not as the edit's."""
    world.sb.hubspot.update_deal("1006", seats_purchased="300")
    Harness(world.sb, world.settings()).plan()  # keeps the deal snapshot current
    page = viewer.post("/mappings/check", data={"name": "hubspot.yaml", "text": hubspot() + "\n"}).text
    assert rows(page, "edit") == [["This edit changes no override."]]
    pending = {(r[0], r[1], r[2]): r for r in rows(page, "pending")}
    initech = pending[("update", "Initech", "Seats")]
    assert initech[3] == "250 → 300"
    assert re.fullmatch(r"250 from override (cmov_\w+) → 300 from override \1", initech[4]), initech[4]


def test_an_edit_with_a_typo_gets_no_preview(viewer: httpx.Client) -> None:
    """A file with problems cannot be planned: its problems are shown, no preview is made."""
    page = viewer.post(
        "/mappings/check", data={"name": "hubspot.yaml", "text": hubspot().replace("type:", "typ:", 1)}
    ).text
    assert 'class="problem"' in page and 'id="preview"' not in page


def test_an_edit_reading_a_property_the_snapshot_lacks_reads_the_crm_once_and_says_so(
    viewer: httpx.Client, world: World
) -> None:
    """Seats from `amount`, a property no run fetched: the preview reads HubSpot once now, says why, and still
    writes nothing to Schematic."""
    before = writes(world)
    text = hubspot().replace("from: seats_purchased", "from: amount")
    page = viewer.post("/mappings/check", data={"name": "hubspot.yaml", "text": text}).text
    age = re.search(r'<p class="age">(.*?)</p>', page, re.S)
    assert age and "deals read from the CRMs just now" in age.group(1) and "amount" in age.group(1), page[-3000:]
    assert writes(world) == before
