"""Operators act from the console — adopt a conflict, release an override, reconcile a company — and
each action is a run of the person who did it (written with the change), shown on the run's page."""

from __future__ import annotations

import httpx

from crmsync.domain import LedgerState
from tests.ui.conftest import World


def newest_run(client: httpx.Client) -> str:
    """The newest run's page."""
    listing = client.get("/runs").text
    run_id = listing.split("/runs/", 1)[1].split('"', 1)[0]
    return client.get(f"/runs/{run_id}").text


def test_an_operator_adopts_a_conflict_and_the_run_names_them(operator: httpx.Client, world: World) -> None:
    """Adopting Globex / Seats puts the manual override in the ledger, recorded as otto's adopt run."""
    confirm = operator.get("/actions/adopt", params={"company": "comp_globex", "feature": "feat_seats"})
    assert confirm.status_code == 200 and "Adopt" in confirm.text and "otto" in confirm.text
    done = operator.post("/actions/adopt", data={"company": "comp_globex", "feature": "feat_seats"})
    assert done.status_code == 303, done.text
    assert "Adopted 1 override(s)" in operator.get(done.headers["location"].removeprefix("/ui")).text  # the flash
    adopted = [o for o in world.data.store.owned() if o.company_id == "comp_globex" and o.feature_id == "feat_seats"]
    assert [o.status for o in adopted] == [LedgerState.ACTIVE]
    run = newest_run(operator)
    assert "Initiated by</dt><dd>otto" in run and "console" in run and "adopt" in run


def test_an_operator_releases_an_override(operator: httpx.Client, world: World) -> None:
    """The released override stays in Schematic with its value, leaves crmsync's management, and otto's
    run says so."""
    owned = next(o for o in world.data.store.owned() if o.company_id == "comp_acme" and o.override_id)
    assert owned.override_id is not None
    before = dict(world.sb.schematic.overrides[owned.override_id])
    done = operator.post("/actions/release", data={"override": owned.override_id})
    assert done.status_code == 303, done.text
    assert owned.override_id not in {o.override_id for o in world.data.store.owned()}
    after = world.sb.schematic.overrides[owned.override_id]  # not deleted; only a release note is added
    assert {k: v for k, v in after.items() if k not in ("notes", "updated_at")} == {
        k: v for k, v in before.items() if k not in ("notes", "updated_at")
    }
    run = newest_run(operator)
    assert "release" in run and "Initiated by</dt><dd>otto" in run and owned.override_id in run


def test_an_operator_reconciles_a_company_now(operator: httpx.Client) -> None:
    """A scoped apply runs as otto's console run and the redirect lands on its page."""
    done = operator.post("/actions/reconcile", data={"company": "comp_umbrella"})
    assert done.status_code == 303 and "/runs/" in done.headers["location"]
    run = operator.get(done.headers["location"].removeprefix("/ui")).text
    assert "Initiated by</dt><dd>otto" in run and "Trigger</dt><dd>console" in run and "Succeeded" in run


def test_a_refused_action_says_why_and_changes_nothing(operator: httpx.Client, world: World) -> None:
    """Releasing an override crmsync does not manage is a 400 page naming it; the ledger is unchanged."""
    before = world.data.store.owned()
    refused = operator.post("/actions/release", data={"override": "cmov_not_ours"})
    assert refused.status_code == 400 and "cmov_not_ours" in refused.text
    assert world.data.store.owned() == before
