"""The Schematic emulator, driven by real httpx over loopback.

Each test gets a fresh emulator seeded with the sample data, so writes never leak between
tests; `api` is an httpx client carrying the API key.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from crmsync.sandbox import SchematicState, load_data
from crmsync.sandbox.schematic import make_schematic_app
from crmsync.sandbox.serve import ServedApp, serve_app
from tests.asgi_switch import Switch


@dataclass
class Env:
    """A running Schematic emulator and a client for it."""

    state: SchematicState
    served: ServedApp
    api: httpx.Client


@pytest.fixture(scope="module")
def schematic_server() -> Iterator[tuple[Switch, ServedApp]]:
    """One server for the module, serving whichever app its switch holds."""
    switch = Switch(make_schematic_app(SchematicState()))
    with serve_app(switch) as served:
        yield switch, served


@pytest.fixture
def env(schematic_server: tuple[Switch, ServedApp]) -> Iterator[Env]:
    """A fresh sample-seeded state behind the shared server, and a keyed httpx client."""
    switch, served = schematic_server
    state = SchematicState()
    state.load(load_data().schematic)
    switch.app = make_schematic_app(state)
    with httpx.Client(base_url=served.url, headers={"X-Schematic-Api-Key": state.api_key}, timeout=5) as api:
        yield Env(state, served, api)


def create(api: httpx.Client, **body: Any) -> httpx.Response:
    """POST an override with sensible defaults."""
    return api.post(
        "/company-overrides",
        json={
            "company_id": "comp_acme",
            "feature_id": "feat_seats",
            "value_type": "numeric",
            "value_numeric": 50,
            **body,
        },
    )


def test_success_is_wrapped_in_data_and_params(env: Env) -> None:
    """Every success is {"data": ..., "params": {...}} with params echoing the inputs."""
    body = env.api.get("/companies", params={"limit": 2, "offset": 1}).json()
    assert set(body) == {"data", "params"}
    assert body["params"] == {"limit": 2, "offset": 1}
    assert len(body["data"]) == 2


def test_company_keys_are_an_array_and_plan_has_a_version(env: Env) -> None:
    """A company's keys are an array of key objects; plan carries plan_version_id."""
    company = env.api.get("/companies/comp_initech").json()["data"]
    assert [(k["key"], k["value"], k["entity_id"]) for k in company["keys"]] == [
        ("hubspot_company_id", "5003", "comp_initech")
    ]
    assert company["plan"]["plan_version_id"] == "plvr_growth" and company["add_ons"] == []


def test_lookup_finds_a_company_by_keys_in_the_sdk_form(env: Env) -> None:
    """Lookup finds a company by `keys[k]=v`, the form the SDKs generated from the spec send."""
    response = env.api.get("/companies/lookup", params={"keys[hubspot_company_id]": "5002"})
    assert response.status_code == 200 and response.json()["data"]["id"] == "comp_globex"


@pytest.mark.parametrize(
    "params", [{"keys": '{"hubspot_company_id": "5002"}'}, {"hubspot_company_id": "5002"}], ids=["json", "plain"]
)
def test_lookup_refuses_any_other_spelling_of_the_keys(env: Env, params: dict[str, str]) -> None:
    """`?keys={...}` and `?k=v` are refused with Schematic's 400 JSON: a client that changed its form fails here."""
    response = env.api.get("/companies/lookup", params=params)
    assert response.status_code == 400 and "keys[name]=value" in response.json()["error"]


def test_lookup_of_an_unknown_key_is_404(env: Env) -> None:
    """A lookup that matches no company is a 404 with an error body."""
    response = env.api.get("/companies/lookup", params={"keys[hubspot_company_id]": "5006"})
    assert response.status_code == 404 and "error" in response.json()


@pytest.mark.parametrize("headers", [{}, {"X-Schematic-Api-Key": "wrong"}], ids=["no-key", "bad-key"])
def test_requests_without_the_api_key_get_401(env: Env, headers: dict[str, str]) -> None:
    """A missing or wrong X-Schematic-Api-Key is a 401 {"error": ...}."""
    response = httpx.get(f"{env.served.url}/companies", headers=headers)
    assert response.status_code == 401 and set(response.json()) == {"error"}


def test_create_answers_201_with_the_full_override(env: Env) -> None:
    """POST /company-overrides answers 201 with the override, its note, company and feature."""
    response = create(env.api, metric_period=None, expiration_date="2027-12-31T00:00:00+00:00", note="crmsync 1001")
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["id"].startswith("cmov_") and data["environment_id"] == "env_sandbox"
    assert (data["value_type"], data["value_numeric"], data["expiration_date"]) == (
        "numeric",
        50,
        "2027-12-31T00:00:00Z",
    )
    assert [n["note"] for n in data["notes"]] == ["crmsync 1001"]
    assert data["company"]["id"] == "comp_acme" and data["feature"]["flags"][0]["key"] == "seats"
    assert env.state.overrides_for("comp_acme", "feat_seats")[0]["id"] == data["id"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"value_type": None}, 400),
        ({"value_numeric": 12.5}, 400),
        ({"value_type": "bogus"}, 400),
        ({"company_id": "comp_nope"}, 404),
        ({"feature_id": "feat_nope"}, 404),
        ({"expiration_date": "2027-12-31T00:00:00"}, 400),
    ],
    ids=[
        "no-value-type",
        "fractional-numeric",
        "bad-value-type",
        "unknown-company",
        "unknown-feature",
        "naive-expiration",
    ],
)
def test_create_rejects_invalid_bodies(env: Env, body: dict[str, Any], status: int) -> None:
    """Invalid creates are refused with 400 (bad fields) or 404 (unknown company or feature)."""
    response = create(env.api, **body)
    assert response.status_code == status and "error" in response.json()
    assert env.state.overrides_for("comp_acme") == []


def test_put_without_value_type_is_400(env: Env) -> None:
    """PUT requires value_type, as Schematic's API does."""
    oid = create(env.api).json()["data"]["id"]
    response = env.api.put(f"/company-overrides/{oid}", json={"value_numeric": 60})
    assert response.status_code == 400
    assert env.state.overrides[oid]["value_numeric"] == 50


def test_put_sets_present_fields_keeps_omitted_clears_null_and_appends_notes(env: Env) -> None:
    """PUT sets fields present, keeps omitted ones, clears explicit nulls, appends the note."""
    oid = create(env.api, expiration_date="2027-01-31T00:00:00Z", metric_period="current_month", note="first").json()[
        "data"
    ]["id"]
    data = env.api.put(
        f"/company-overrides/{oid}",
        json={"value_type": "numeric", "value_numeric": 75, "expiration_date": None, "note": "second"},
    ).json()["data"]
    assert (data["value_numeric"], data["expiration_date"], data["metric_period"]) == (75, None, "current_month")
    assert [n["note"] for n in data["notes"]] == ["first", "second"]


def test_delete_answers_deleted_and_then_404(env: Env) -> None:
    """DELETE answers {"deleted": true}; deleting again is a 404."""
    oid = create(env.api).json()["data"]["id"]
    first = env.api.delete(f"/company-overrides/{oid}")
    assert first.json() == {"data": {"deleted": True}, "params": {}}
    assert env.api.delete(f"/company-overrides/{oid}").status_code == 404


def test_list_is_newest_first_with_limit_and_offset(env: Env) -> None:
    """Overrides list newest first; offset counts records; limit above 250 is a 400."""
    ids = [create(env.api, value_numeric=n).json()["data"]["id"] for n in range(5)]
    page = env.api.get("/company-overrides", params={"company_id": "comp_acme", "limit": 2, "offset": 1}).json()
    assert [o["id"] for o in page["data"]] == [ids[3], ids[2]]
    assert page["params"] == {"company_id": "comp_acme", "limit": 2, "offset": 1}
    assert env.api.get("/company-overrides", params={"limit": 250}).status_code == 200
    assert env.api.get("/company-overrides", params={"limit": 251}).status_code == 400


def test_list_filters_take_repeated_keys(env: Env) -> None:
    """company_ids, feature_ids and ids filter with repeated query keys; over 100 values is a 400."""
    acme = create(env.api).json()["data"]["id"]
    hooli = create(
        env.api, company_id="comp_hooli", feature_id="feat_sso", value_type="boolean", value_bool=True
    ).json()["data"]["id"]
    listed = env.api.get("/company-overrides", params={"company_ids": ["comp_acme", "comp_hooli"]}).json()
    assert [o["id"] for o in listed["data"]] == [hooli, acme]
    assert listed["params"]["company_ids"] == ["comp_acme", "comp_hooli"]
    by_feature = env.api.get("/company-overrides", params={"feature_ids": ["feat_sso"]}).json()["data"]
    assert [o["id"] for o in by_feature] == [hooli]
    by_ids = env.api.get("/company-overrides", params={"ids": [acme, "cmov_other"]}).json()["data"]
    assert [o["id"] for o in by_ids] == [acme]
    too_many = env.api.get("/company-overrides", params={"ids": [f"cmov_{n}" for n in range(101)]})
    assert too_many.status_code == 400


def test_count_uses_the_list_filters(env: Env) -> None:
    """/company-overrides/count counts what the list would return."""
    create(env.api)
    count = env.api.get("/company-overrides/count", params={"company_id": "comp_acme"}).json()
    assert count == {"data": {"count": 1}, "params": {"company_id": "comp_acme"}}
    assert env.api.get("/company-overrides/count").json()["data"]["count"] == 2


def test_without_expired_hides_overrides_past_their_expiration(env: Env) -> None:
    """without_expired=true leaves out overrides whose expiration_date has passed on the clock."""
    create(env.api, expiration_date="2026-06-30T00:00:00Z")
    env.state.clock = lambda: datetime(2026, 7, 1, tzinfo=UTC)
    params = {"company_id": "comp_acme"}
    assert len(env.api.get("/company-overrides", params=params).json()["data"]) == 1
    assert env.api.get("/company-overrides", params={**params, "without_expired": "true"}).json()["data"] == []


def test_the_seeded_manual_override_is_there_with_its_note(env: Env) -> None:
    """The sample's hand-made Globex seats override is listed with its support note."""
    (manual,) = env.state.overrides_for("comp_globex")
    assert (manual["feature_id"], manual["value_numeric"]) == ("feat_seats", 35)
    assert manual["notes"][0]["note"] == "Granted by hand by support (ticket 4411)"


def test_injected_429_carries_bucket_retry_after_and_rate_headers(env: Env) -> None:
    """fail_next(…, 429) answers with bucket, Retry-After and X-RateLimit-*; then service resumes."""
    env.state.fail_next("POST", "/company-overrides", 429, retry_after=3)
    env.state.fail_next("GET", "/companies", 429)
    limited = create(env.api)
    assert limited.status_code == 429
    assert limited.json() == {"bucket": "mutation", "error": "Rate limit exceeded"}
    assert limited.headers["retry-after"] == "3" and limited.headers["x-ratelimit-reset"] == "3"
    assert {"x-ratelimit-limit", "x-ratelimit-remaining"} <= set(limited.headers)
    assert env.api.get("/companies").json()["bucket"] == "global"
    assert create(env.api).status_code == 201


def test_injected_500_answers_an_error_body(env: Env) -> None:
    """fail_next with a 5xx answers {"error": ...} once."""
    env.state.fail_next("*", "/company-overrides", 503, times=2)
    assert [env.api.get("/company-overrides").status_code for _ in range(3)] == [503, 503, 200]


def test_hang_after_commit_creates_the_override_but_the_client_times_out(env: Env) -> None:
    """A create whose response is withheld past the client's timeout was still committed."""
    env.state.hang_after_commit("POST", "/company-overrides", seconds=0.6)
    with pytest.raises(httpx.ReadTimeout):
        env.api.post(
            "/company-overrides",
            json={"company_id": "comp_acme", "feature_id": "feat_sso", "value_type": "boolean", "value_bool": True},
            timeout=0.15,
        )
    deadline = time.monotonic() + 5  # the client may give up before the server has even handled it
    while not any(r.method == "POST" for r in env.state.requests) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(env.state.overrides_for("comp_acme", "feat_sso")) == 1
    assert create(env.api).status_code == 201  # the hang was used up


def test_garble_after_commit_creates_the_override_but_answers_a_body_that_is_not_json(env: Env) -> None:
    """A create answered 2xx with an HTML body was still committed; the rule is then used up."""
    env.state.garble_after_commit("POST", "/company-overrides")
    response = env.api.post(
        "/company-overrides",
        json={"company_id": "comp_acme", "feature_id": "feat_sso", "value_type": "boolean", "value_bool": True},
    )
    assert response.status_code == 201 and response.text.startswith("<html>")
    assert len(env.state.overrides_for("comp_acme", "feat_sso")) == 1
    assert create(env.api).json()["data"]["id"].startswith("cmov_")


def test_write_count_counts_override_writes_only(env: Env) -> None:
    """write_count counts POST/PUT/DELETE under /company-overrides, failed ones included, not reads."""
    oid = create(env.api).json()["data"]["id"]
    env.api.put(f"/company-overrides/{oid}", json={"value_numeric": 1})
    env.api.delete(f"/company-overrides/{oid}")
    env.api.get("/company-overrides")
    env.api.get("/companies")
    assert env.state.write_count == 3


def test_rate_limit_per_second_answers_429(env: Env) -> None:
    """Past rate_limit_per_second the emulator answers 429 with a Retry-After."""
    env.state.rate_limit_per_second = 2
    responses = [env.api.get("/features") for _ in range(5)]
    limited = [r for r in responses if r.status_code == 429]
    assert limited and float(limited[0].headers["retry-after"]) > 0


def test_features_flags_and_entitlements_resolve_keys_and_plans(env: Env) -> None:
    """Features carry their flag; /flags?q finds a key; plan entitlements filter by version and feature."""
    features = {f["id"]: f for f in env.api.get("/features").json()["data"]}
    assert features["feat_api_calls"]["flags"][0]["key"] == "api-calls"
    flags = env.api.get("/flags", params={"q": "audit-log"}).json()["data"]
    assert [(f["key"], f["feature_id"]) for f in flags] == [("audit-log", "feat_audit_log")]
    entitlements = env.api.get(
        "/plan-entitlements", params={"plan_version_id": "plvr_starter", "feature_id": "feat_api_calls"}
    ).json()["data"]
    assert [(e["value_numeric"], e["metric_period"]) for e in entitlements] == [(10000, "current_month")]
    assert entitlements[0]["id"].startswith("pltl_")


def test_requests_are_recorded(env: Env) -> None:
    """Each request is logged with its method, path, query, body and status."""
    create(env.api, note="x")
    recorded = env.state.requests[-1]
    assert (recorded.method, recorded.path, recorded.status) == ("POST", "/company-overrides", 201)
    assert recorded.json["note"] == "x"


def test_companies_without_plan_without_version_with_add_ons_and_without_keys(env: Env) -> None:
    """A company on no plan has no `plan`; a plan without version gives `plan_version_id: null`;
    add-ons and traits (an object) are rendered; a company may have no keys at all."""
    legacy = env.state.add_plan("Legacy", plan_id="plan_legacy", versioned=False)
    addon = env.state.add_plan("SSO add-on", "plvr_sso", plan_type="add_on")
    env.state.add_company("Nobody", {}, company_id="comp_keyless")
    env.state.add_company("Old", {"k": "1"}, company_id="comp_old", plan_id=legacy)
    env.state.add_company(
        "Big",
        {"k": "2", "j": "3"},
        company_id="comp_big",
        plan_version_id="plvr_starter",
        add_ons=[addon],
        traits={"region": "eu", "seats": 3},
    )
    keyless = env.api.get("/companies/comp_keyless").json()["data"]
    old = env.api.get("/companies/comp_old").json()["data"]
    big = env.api.get("/companies/comp_big").json()["data"]
    assert "plan" not in keyless and keyless["keys"] == [] and keyless["traits"] == {}
    assert old["plan"]["id"] == "plan_legacy" and old["plan"]["plan_version_id"] is None
    assert [a["plan_version_id"] for a in big["add_ons"]] == ["plvr_sso"] and big["traits"]["seats"] == 3
    assert sorted(k["key"] for k in big["keys"]) == ["j", "k"]


def test_note_authors_are_strings_never_null(env: Env) -> None:
    """An API-key write's note has empty author strings, as the spec requires strings."""
    note = create(env.api, note="by crmsync").json()["data"]["notes"][0]
    assert note["external_user_id"] == "" and note["external_user_name"] == ""


def test_an_unserved_route_answers_schematic_error_json(env: Env) -> None:
    """Unserved paths and methods answer `{"error": ...}` with 404 / 405, not plain text."""
    missing, wrong_method = env.api.get("/no-such-thing"), env.api.patch("/company-overrides")
    assert missing.status_code == 404 and "error" in missing.json()
    assert wrong_method.status_code == 405 and "error" in wrong_method.json()


def test_the_mutation_bucket_answers_as_schematic_does(env: Env) -> None:
    """limit_writes(rate, burst): past the burst a write is answered 429 with the mutation bucket's
    body, Retry-After and X-RateLimit-*; writes within it carry the headers; reads are not limited."""
    env.state.limit_writes(0.5, 2)
    first, second, third = (create(env.api, value_numeric=10 + n) for n in range(3))
    assert first.status_code == second.status_code == 201
    assert first.headers["x-ratelimit-limit"] == "2" and first.headers["x-ratelimit-remaining"] == "1"
    assert second.headers["x-ratelimit-remaining"] == "0" and int(second.headers["x-ratelimit-reset"]) >= 1
    assert third.status_code == 429
    assert third.json() == {"bucket": "mutation", "error": "Rate limit exceeded"}
    assert third.headers["retry-after"] == "2"  # whole seconds until the next token (0.5/s)
    assert third.headers["x-ratelimit-limit"] == "2" and third.headers["x-ratelimit-remaining"] == "0"
    assert third.headers["x-ratelimit-reset"] == "2"
    assert env.api.get("/features").status_code == 200 and "x-ratelimit-limit" not in env.api.get("/features").headers
    assert env.state.mutation.refused == 1


def test_no_write_limit_and_no_latency_unless_asked(env: Env) -> None:
    """By default writes are not limited and carry no X-RateLimit-* header; latency_seconds delays
    every answer by at least that much."""
    answers = [create(env.api, value_numeric=10 + n) for n in range(30)]
    assert {a.status_code for a in answers} == {201} and "x-ratelimit-limit" not in answers[0].headers
    env.state.latency_seconds = 0.2
    started = time.monotonic()
    assert env.api.get("/features").status_code == 200
    assert time.monotonic() - started >= 0.2


def test_a_company_filtered_list_keeps_the_full_lists_order_after_a_delete() -> None:
    """Creation numbers break ties of equal creation times; one freed by a delete is never reused."""
    frozen = datetime(2026, 1, 1, tzinfo=UTC)
    state = SchematicState(clock=lambda: frozen)
    a = state.add_company("A", {"id": "a"})
    b = state.add_company("B", {"id": "b"})
    feature = state.add_feature("Seats", "trait")
    first = state.add_override(a, feature, "numeric", value_numeric=1)
    state.add_override(b, feature, "numeric", value_numeric=2)
    state.delete_override(first)
    state.add_override(a, feature, "numeric", value_numeric=3)
    full = [r["id"] for r in state.override_records()]
    assert [r["id"] for r in state.override_records_of({a, b})] == full
