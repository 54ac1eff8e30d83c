"""`crmsync owned`: what the ledger manages, with the last applied value and the source deals."""

from __future__ import annotations

import json

from tests.e2e.conftest import Harness
from tests.e2e.scenarios import crmsync_overrides, invoke


def test_owned_lists_every_override_crmsync_created_with_its_deals(harness: Harness) -> None:
    """After an apply, `owned --json` lists exactly the overrides carrying crmsync's note, each with
    its value and the deals named in that note; the manual override is not among them."""
    assert invoke(harness, "apply", "--yes").exit_code == 0
    result = invoke(harness, "owned", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["format_version"] == 1
    by_id = {e["override_id"]: e for e in doc["owned"]}
    assert set(by_id) == set(crmsync_overrides(harness))
    seats = next(e for e in doc["owned"] if e["company_id"] == "comp_acme" and e["feature"] == "Seats")
    assert seats["last_applied"]["value_numeric"] == 50
    assert {(d["source"], d["id"]) for d in seats["deals"]} == {
        ("hubspot", "1001"),
        ("hubspot", "1002"),
        ("salesforce", "006000000000101AAA"),
    }


def test_owned_scoped_to_a_company_by_key_and_as_text(harness: Harness) -> None:
    """`owned --company hubspot_company_id=5001` shows only Acme's overrides, one line each plus its deals."""
    assert invoke(harness, "apply", "--yes").exit_code == 0
    result = invoke(harness, "owned", "--company", "hubspot_company_id=5001")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1] == "crmsync manages 3 override(s)."
    assert all(line.startswith(("Acme Corp / ", "    deals: ")) for line in lines[:-1])
    assert "Acme Corp / Seats = 50" in result.output


def test_owned_before_any_apply_says_none(harness: Harness) -> None:
    """An empty ledger: one line, exit 0."""
    result = invoke(harness, "owned")
    assert result.exit_code == 0 and result.output.strip() == "crmsync manages no overrides."


def test_releasing_an_unknown_id_points_at_owned(harness: Harness) -> None:
    """`release cmov_nope`: exit 1, and the hint names the command that lists what crmsync manages."""
    result = invoke(harness, "release", "cmov_nope")
    assert result.exit_code == 1 and "crmsync owned lists the overrides it manages" in result.output
