"""Every request crmsync sends and every answer the emulators give, held to the vendors' specs."""

from __future__ import annotations

import json
from dataclasses import replace

from tests.fidelity.allowlist import ALLOWED, allowed_by
from tests.fidelity.conftest import Checked
from tests.fidelity.scenario import CRMSYNC_CALLS
from tests.fidelity.specs import Validator


def test_every_exchange_matches_the_spec_or_an_allowed_deviation(fidelity: Checked) -> None:
    """No request or response differs from the spec except as the allow-list says."""
    assert not fidelity.unexpected, "new mismatches:\n" + "\n".join(sorted({str(m) for m in fidelity.unexpected}))


def test_every_allowed_deviation_is_still_seen(fidelity: Checked) -> None:
    """An allow-list entry that matches nothing is stale and would hide the next real mismatch."""
    assert sorted(e.name for e in ALLOWED if not fidelity.allowed[e.name]) == []


def test_every_endpoint_crmsync_calls_is_covered(fidelity: Checked) -> None:
    """The run reaches every operation crmsync itself calls on HubSpot and Schematic."""
    assert sorted(set(CRMSYNC_CALLS) - set(fidelity.operations)) == []


def test_the_errors_crmsync_must_read_are_covered(fidelity: Checked) -> None:
    """Both emulators answered 400, 401, 404, 429 and a 5xx during the run, each validated."""
    for service in ("hubspot", "schematic"):
        seen = fidelity.statuses[service]
        assert {400, 401, 404, 429} <= seen and any(s >= 500 for s in seen), (service, sorted(seen))


def test_a_response_missing_a_required_field_is_caught(fidelity: Checked, validator: Validator) -> None:
    """The check can fail: an override without `company_id` is a mismatch no entry allows."""
    created = next(e for e in fidelity.recording.schematic if e.method == "POST" and e.status == 201)
    body = json.loads(created.response_body)
    del body["data"]["company_id"]
    _, mismatches = validator.check("schematic", replace(created, response_body=json.dumps(body).encode()))
    assert [m.where for m in mismatches if allowed_by(m) is None] == ["data"]


def test_a_numeric_association_target_is_caught(fidelity: Checked, validator: Validator) -> None:
    """The check can fail: `toObjectId` as a number (the old emulator's answer) is a mismatch."""
    read = next(
        e for e in fidelity.recording.hubspot if e.path.endswith("/deals/companies/batch/read") and e.status == 200
    )
    body = json.loads(read.response_body)
    body["results"][0]["to"][0]["toObjectId"] = int(body["results"][0]["to"][0]["toObjectId"])
    _, mismatches = validator.check("hubspot", replace(read, response_body=json.dumps(body).encode()))
    assert [m.where for m in mismatches if allowed_by(m) is None] == ["results/0/to/0/toObjectId"]


def test_the_varied_company_shapes_were_validated(fidelity: Checked) -> None:
    """The validated company lists held a company on no plan, one on a plan without version, one
    with an add-on, one with several keys and one with none."""
    listed = [
        c
        for e in fidelity.recording.schematic
        if e.method == "GET" and e.path == "/companies" and e.status == 200
        for c in json.loads(e.response_body)["data"]
    ]
    shapes = {c["id"]: c for c in listed}
    assert "plan" not in shapes["comp_hooli"]
    assert shapes["comp_umbrella"]["plan"]["plan_version_id"] is None
    assert shapes["comp_acme"]["add_ons"] and len(shapes["comp_acme"]["keys"]) > 2
    assert shapes["comp_keyless"]["keys"] == []
