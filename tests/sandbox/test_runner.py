"""The sandbox runner and the bundled sample data set."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest

from crmsync.errors import ConfigError
from crmsync.sandbox import Sandbox, SandboxData, SchematicState, load_data, parse_data, sample_data_path
from crmsync.sandbox.data import SchematicSeed, SeedOverride


def test_a_running_sandbox_gives_urls_and_environment() -> None:
    """Inside `with Sandbox()`, the emulators answer on loopback and env() points at them."""
    with Sandbox() as sb:
        env = sb.env()
        assert set(env) == {
            "HUBSPOT_API_URL",
            "HUBSPOT_ACCESS_TOKEN",
            "SCHEMATIC_API_URL",
            "SCHEMATIC_API_KEY",
            "SALESFORCE_INSTANCE_URL",
            "SALESFORCE_ACCESS_TOKEN",
            "SALESFORCE_CA_BUNDLE",
        }
        assert env["HUBSPOT_API_URL"].startswith("http://127.0.0.1:")
        assert env["SALESFORCE_INSTANCE_URL"].startswith("https://127.0.0.1:")
        hubspot = httpx.get(
            f"{sb.hubspot_url}/crm/v3/pipelines/deals",
            headers={"Authorization": f"Bearer {env['HUBSPOT_ACCESS_TOKEN']}"},
        )
        schematic = httpx.get(
            f"{sb.schematic_url}/companies/count", headers={"X-Schematic-Api-Key": env["SCHEMATIC_API_KEY"]}
        )
        assert hubspot.status_code == 200 and schematic.json()["data"]["count"] == 6
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{env['SCHEMATIC_API_URL']}/companies")


def test_urls_before_start_raise() -> None:
    """Asking for a URL before start() says how to start the sandbox."""
    with pytest.raises(RuntimeError, match="start"):
        _ = Sandbox().hubspot_url


def test_the_sample_has_the_documented_companies_features_and_deals() -> None:
    """The bundled sample holds the companies, features, plans, manual override, 24 deals and 6 opportunities."""
    sb = Sandbox()
    assert sorted(sb.schematic.companies) == [
        "comp_acme",
        "comp_globex",
        "comp_hooli",
        "comp_initech",
        "comp_umbrella",
        "comp_wayne",
    ]
    assert sb.salesforce is not None and sb.salesforce.opportunity("006000000000102AAA")["Seats__c"] == 120
    assert {f["flag"]["key"] for f in sb.schematic.features.values()} == {"seats", "sso", "api-calls", "audit-log"}
    assert len(sb.hubspot.deals) == 24 and sorted(sb.hubspot.companies) == [str(n) for n in range(5001, 5007)]
    assert sb.hubspot.deals["1013"].company_ids == []
    assert (sb.hubspot.deals["1014"].company_ids, sb.hubspot.deals["1014"].primary_company_id) == (
        ["5001", "5002"],
        "5001",
    )
    assert sb.hubspot.deals["1010"].properties["seats_purchased"] == " 75 "
    closedates = [d.properties["closedate"] for d in sb.hubspot.deals.values()]
    assert len(set(closedates)) == 24 and all(c.startswith("2026-") for c in closedates)
    assert [o["value_numeric"] for o in sb.schematic.overrides.values()] == [35]


def test_an_empty_data_set_makes_empty_emulators() -> None:
    """SandboxData() seeds nothing: no deals, companies or overrides."""
    sb = Sandbox(SandboxData())
    assert sb.hubspot.deals == {} and sb.schematic.companies == {} and sb.schematic.overrides == {}


def test_load_data_reports_every_problem_with_its_path(tmp_path: Path) -> None:
    """An invalid seed file fails with one ConfigError naming every bad field."""
    seed = tmp_path / "seed.json"
    seed.write_text(
        json.dumps(
            {
                "hubspot": {"deals": [{"id": 7, "properties": {"seats": 50}}]},
                "schematic": {"features": [{"id": "feat_x"}]},
                "zendesk": {},
            }
        )
    )
    with pytest.raises(ConfigError) as caught:
        load_data(seed)
    message = str(caught.value)
    for expected in (
        "hubspot.deals[0].id",
        "hubspot.deals[0].properties.seats",
        "schematic.features[0].name",
        "schematic.features[0].feature_type",
        "$.zendesk",
    ):
        assert expected in message


def test_a_seed_naming_unknown_ids_is_refused_where_it_is_wrong() -> None:
    """Overrides, entitlements and companies must name the seed's own companies, features and plans."""
    raw = json.loads(sample_data_path().read_text(encoding="utf-8"))
    schematic = raw["schematic"]
    schematic["overrides"].append({"company_id": "comp_acmee", "feature_id": "feat_seat", "value_type": "numeric"})
    schematic["overrides"].append(
        {"company_id": "comp_acme", "feature_id": "feat_seats", "value_type": "numeric", "metric_period": "monthly"}
    )
    schematic["plans"][0]["entitlements"][0]["feature_id"] = "feat_nope"
    schematic["companies"][0]["plan_version_id"] = "plvr_nope"
    with pytest.raises(ConfigError) as caught:
        parse_data(raw, "seed.json")
    message = str(caught.value)
    for expected in (
        "schematic.overrides[1].company_id: unknown company 'comp_acmee'",
        "schematic.overrides[1].feature_id: unknown feature 'feat_seat'",
        "schematic.overrides[2]: invalid metric_period 'monthly'",
        "schematic.plans[0].entitlements[0].feature_id: unknown feature 'feat_nope'",
        "schematic.companies[0].plan_version_id: unknown plan version 'plvr_nope'",
    ):
        assert expected in message


@pytest.mark.parametrize(
    ("salesforce", "expected"),
    [
        (
            {"opportunities": [{"Name": "ok"}, {"Seats__c": 5}, {"Seats__c": "five"}]},
            "$.salesforce.opportunities[2]: field Seats__c (double) cannot hold 'five'",
        ),
        ({"record_types": [{"Name": "No developer name"}]}, "$.salesforce.record_types[0]: missing 'DeveloperName'"),
        ({"custom_fields": {"Seats__c": "float"}}, "$.salesforce.custom_fields.Seats__c: 'float' is not a valid"),
        ({"credentials": {"user": "x"}}, "$.salesforce.credentials: "),
        ({"oportunities": []}, "$.salesforce.oportunities: unknown key"),
        ({"request_limit": "10"}, "$.salesforce.request_limit: expected an integer"),
        ([], "$.salesforce: expected an object"),
    ],
    ids=["bad-value", "missing-key", "bad-type", "bad-credential", "unknown-key", "bad-limit", "not-an-object"],
)
def test_a_salesforce_section_the_emulator_cannot_hold_is_refused(salesforce: object, expected: str) -> None:
    """The salesforce section is seeded into a throwaway emulator; what fails is reported with its path."""
    with pytest.raises(ConfigError) as caught:
        parse_data({"salesforce": salesforce})
    assert expected in str(caught.value)


def test_loading_a_seed_checks_override_companies_and_features() -> None:
    """SchematicState.load refuses an override of an unknown company (a seed built without parse_data)."""
    seed = SchematicSeed(overrides=(SeedOverride("comp_nope", "feat_nope", "numeric", value_numeric=1),))
    with pytest.raises(ValueError, match="unknown company 'comp_nope'"):
        SchematicState().load(seed)


def test_load_data_of_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    """A missing seed file is a ConfigError naming the file."""
    with pytest.raises(ConfigError, match=r"nope\.json"):
        load_data(tmp_path / "nope.json")


def test_sample_data_path_points_at_the_bundled_file() -> None:
    """sample_data_path() is the JSON the default sandbox loads."""
    assert sample_data_path().name == "sample.json"
    assert load_data().source == str(sample_data_path())


def test_serve_forever_serves_until_stopped() -> None:
    """serve_forever calls on_ready with the running sandbox and returns when `stop` is set."""
    stop, seen = threading.Event(), []

    def ready(sb: Sandbox) -> None:
        seen.append(httpx.get(f"{sb.schematic_url}/features").status_code)
        stop.set()

    thread = threading.Thread(target=Sandbox.serve_forever, kwargs={"stop": stop, "on_ready": ready})
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive() and seen == [401]
