"""An operator approves, from Problems, the changes a guard withheld: confirm (listing what is withheld),
POST, redirect to the run it recorded, which names them and applied the withheld deletes; a viewer may
not. Over the sample after a real apply, then every HubSpot deal lost (the shrink guard withholds)."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import Harness
from tests.ui.conftest import World

LOST = {"closedwon": "closedlost", "ent_won": "ent_lost"}


def owned_in_schematic(world: World) -> int:
    """Overrides in Schematic that carry crmsync's ownership note."""
    return sum("crmsync" in str(o.get("notes", "")) for o in world.sb.schematic.overrides.values())


@pytest.fixture(scope="module")
def withheld(world: World) -> int:
    """Every HubSpot deal lost, then an apply: the shrink guard withholds its deletes; how many overrides stand."""
    for deal_id, deal in list(world.sb.hubspot.deals.items()):
        if deal.properties.get("dealstage", "") in LOST:
            world.sb.hubspot.update_deal(deal_id, dealstage=LOST[deal.properties["dealstage"]])
    before = owned_in_schematic(world)
    Harness(world.sb, world.settings()).apply()
    assert owned_in_schematic(world) == before  # nothing deleted: the guard withheld it
    return before


def test_a_viewer_sees_what_is_withheld_but_may_not_approve(viewer: httpx.Client, withheld: int) -> None:
    """Problems lists the withheld deletes without the button; the confirm page and the POST are 403."""
    page = viewer.get("/problems").text
    assert "hubspot returned no deals" in page and "Approve withheld changes…" not in page
    assert viewer.get("/actions/approve").status_code == 403
    assert viewer.post("/actions/approve", data={}).status_code == 403


def test_an_operator_approves_and_lands_on_the_run_that_names_them(
    operator: httpx.Client, world: World, withheld: int
) -> None:
    """Approve… → a confirm page listing the withheld changes → POST → 303 to the approve run, by otto,
    which deleted the overrides the guard had held back (and Problems lists nothing withheld any more)."""
    assert withheld > 0
    problems = operator.get("/problems").text
    assert 'href="/ui/actions/approve"' in problems
    confirm = operator.get("/actions/approve").text
    assert "Approve withheld changes?" in confirm and "hubspot returned no deals" in confirm and "otto" in confirm
    done = operator.post("/actions/approve", data={"company": "", "feature": "", "override": ""})
    assert done.status_code == 303 and "/runs/" in done.headers["location"], done.text
    run = operator.get(done.headers["location"].removeprefix("/ui")).text
    assert "Initiated by</dt><dd>otto" in run and "Trigger</dt><dd>approve" in run and "Succeeded" in run
    assert "Approved by otto" in run  # the flash
    assert owned_in_schematic(world) < withheld
    assert "hubspot returned no deals" not in operator.get("/problems").text
