"""`plan`/`apply --company C` (repeatable): a scoped reconcile of the named companies only."""

from __future__ import annotations

import json

from tests.e2e.conftest import Harness
from tests.e2e.scenarios import crmsync_overrides, grow_to_twenty_then_lose_six, invoke


def test_scoped_plan_lists_only_the_named_companies(harness: Harness) -> None:
    """`plan --company comp_acme --company hubspot_company_id=5002` plans Acme and Globex only."""
    result = invoke(harness, "plan", "--json", "--company", "comp_acme", "--company", "hubspot_company_id=5002")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    companies = {c["company_id"] for c in doc["changes"]} | {c["company_id"] for c in doc["conflicts"]}
    assert companies == {"comp_acme", "comp_globex"}


def test_scoped_apply_writes_only_the_named_company(harness: Harness) -> None:
    """`apply --yes --company comp_acme` creates Acme's overrides and nothing else; a full plan still has the rest."""
    assert invoke(harness, "apply", "--yes", "--company", "comp_acme").exit_code == 0
    assert {r["company_id"] for r in crmsync_overrides(harness).values()} == {"comp_acme"}
    rest = json.loads(invoke(harness, "plan", "--json").stdout)
    assert rest["changes"] and all(c["company_id"] != "comp_acme" for c in rest["changes"])


def test_an_unknown_company_is_one_line_and_nothing_is_planned(harness: Harness) -> None:
    """`--company comp_nope`: exit 1, one line naming it, no write."""
    result = invoke(harness, "apply", "--yes", "--company", "comp_nope")
    assert result.exit_code == 1 and result.output.strip().splitlines() == [
        "crmsync: no Schematic company 'comp_nope'; give its id (comp_…) or a key, e.g. hubspot_company_id=5001"
    ]
    assert harness.sb.schematic.write_count == 0


def test_guards_judge_the_scoped_plan(harness: Harness) -> None:
    """The blast-radius guard counts within the scope: 5 deletes are 25% of all 20 owned overrides (allowed)
    but 100% of the 5 owned by the named companies, so the scoped apply is refused; scoped to companies
    whose deals still stand, it has nothing to refuse."""
    grow_to_twenty_then_lose_six(harness)
    lost = [arg for n in range(5) for arg in ("--company", f"hubspot_company_id={6001 + n}")]
    writes = harness.sb.schematic.write_count
    refused = invoke(harness, "apply", "--yes", *lost)
    assert refused.exit_code == 3 and "refusing to apply" in refused.output
    assert harness.sb.schematic.write_count == writes
    standing = invoke(harness, "apply", "--yes", "--company", "comp_acme", "--company", "hubspot_company_id=6010")
    assert standing.exit_code == 0, standing.output
