"""Varied accounts for the sandbox: the sample seed reshaped the way real accounts differ.

Each `Variant` rewrites the raw seed JSON (and the sample HubSpot mapping, where its names
change) so that the same deals should give the same overrides: numeric stage and pipeline ids
of a custom pipeline, custom properties in unexpected case, mixed-case stages in the mapping,
companies with several keys and with none, and plans with add-ons, no plan or no version.
Used by the e2e suite (tests/e2e/test_variants.py) and for rehearsals: `varied_data(name)`.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crmsync.sandbox.data import SandboxData, parse_data, sample_data_path

Seed = dict[str, Any]

# A custom pipeline as HubSpot numbers it: pipeline and stage ids are numeric strings.
NUMERIC_IDS = {
    "enterprise": "75843121",
    "ent_negotiation": "168735001",
    "ent_won": "168735002",
    "ent_lost": "168735003",
}
# Custom properties created through an integration keep the case they were given.
PROPERTY_CASE = {
    "seats_purchased": "Seats_Purchased",
    "sso_addon": "SSO_Addon",
    "api_call_limit": "API_Call_Limit",
    "contract_end_date": "Contract_End_Date",
}


@dataclass(frozen=True)
class Variant:
    """One way a real account differs from the sample; `seed` edits the raw JSON in place,
    `mapping` rewrites the sample `hubspot.yaml` to match."""

    name: str
    description: str
    seed: Callable[[Seed], None]
    mapping: Callable[[str], str] = lambda text: text


def _numeric_ids(seed: Seed) -> None:
    hubspot = seed["hubspot"]
    for pipeline in hubspot["pipelines"]:
        pipeline["id"] = NUMERIC_IDS.get(pipeline["id"], pipeline["id"])
        for stage in pipeline["stages"]:
            stage["id"] = NUMERIC_IDS.get(stage["id"], stage["id"])
    for deal in hubspot["deals"]:
        props = deal["properties"]
        for name in ("pipeline", "dealstage"):
            props[name] = NUMERIC_IDS.get(props.get(name, ""), props.get(name))


def _numeric_mapping(text: str) -> str:
    return text.replace(
        "pipelines: [default, enterprise]", f'pipelines: [default, "{NUMERIC_IDS["enterprise"]}"]'
    ).replace("stages: [closedwon, ent_won]", f'stages: [closedwon, "{NUMERIC_IDS["ent_won"]}"]')


def _property_case(seed: Seed) -> None:
    for deal in seed["hubspot"]["deals"]:
        deal["properties"] = {PROPERTY_CASE.get(k, k): v for k, v in deal["properties"].items()}
    for defined in seed["hubspot"].get("properties", []):  # a property the seed defines keeps its type
        defined["name"] = PROPERTY_CASE.get(defined["name"], defined["name"])


def _property_mapping(text: str) -> str:
    for old, new in PROPERTY_CASE.items():
        text = text.replace(f"from: {old}", f"from: {new}").replace(f"{old}:", f"{new}:")
    return text


def _mixed_case_mapping(text: str) -> str:
    return text.replace("stages: [closedwon, ent_won]", "stages: [ClosedWon, ENT_WON]").replace(
        "pipelines: [default, enterprise]", "pipelines: [Default, Enterprise]"
    )


def _keys(seed: Seed) -> None:
    companies = seed["schematic"]["companies"]
    for n, company in enumerate(companies):
        company["keys"] = {
            **company["keys"],
            "domain": f"{company['id'][5:]}.example",
            "stripe_customer_id": f"cus_{n}",
        }
    companies.append({"id": "comp_keyless", "name": "Keyless Ltd", "keys": {}, "plan_version_id": "plvr_starter"})


def _plans(seed: Seed) -> None:
    schematic = seed["schematic"]
    schematic["plans"] += [
        {
            "id": "plan_seats_pack",
            "name": "Seats pack",
            "version_id": "plvr_seats_pack",
            "plan_type": "add_on",
            "entitlements": [
                {"feature_id": "feat_seats", "value_type": "numeric", "value_numeric": 60},
                {"feature_id": "feat_sso", "value_type": "boolean", "value_bool": True},
            ],
        },
        {"id": "plan_legacy", "name": "Legacy", "version_id": None},
    ]
    by_id = {c["id"]: c for c in schematic["companies"]}
    by_id["comp_acme"]["add_ons"] = ["plvr_seats_pack"]
    by_id["comp_hooli"].pop("plan_version_id")  # on no plan
    by_id["comp_umbrella"].pop("plan_version_id")  # on a plan without version
    by_id["comp_umbrella"]["plan_id"] = "plan_legacy"
    by_id["comp_hooli"]["traits"] = {"region": "eu", "employees": 1200, "beta": True}


VARIANTS = {
    v.name: v
    for v in (
        Variant(
            "numeric-stage-ids",
            "a custom pipeline whose pipeline and stage ids are numeric strings",
            _numeric_ids,
            _numeric_mapping,
        ),
        Variant("property-case", "custom deal properties named in unexpected case", _property_case, _property_mapping),
        Variant(
            "mixed-case-stages",
            "the mapping writes stages and pipelines in mixed case",
            lambda seed: None,
            _mixed_case_mapping,
        ),
        Variant("company-keys", "Schematic companies with several keys, and one with none", _keys),
        Variant("plans", "an add-on plan, a company on no plan, one on a plan without version, traits", _plans),
    )
}


def varied_seed(name: str, base: Seed | None = None) -> Seed:
    """The raw seed JSON (the bundled sample by default) reshaped by variant `name`."""
    seed = copy.deepcopy(base) if base is not None else json.loads(sample_data_path().read_text(encoding="utf-8"))
    VARIANTS[name].seed(seed)
    return seed


def varied_data(name: str, base: Seed | None = None) -> SandboxData:
    """`varied_seed`, validated into sandbox data."""
    return parse_data(varied_seed(name, base), f"<sample, variant {name}>")


def varied_mappings(name: str, source: Path, target: Path) -> Path:
    """Copy the mapping folder `source` to `target`, its hubspot.yaml rewritten for variant `name`."""
    shutil.copytree(source, target, dirs_exist_ok=True)
    hubspot = target / "hubspot.yaml"
    hubspot.write_text(VARIANTS[name].mapping(hubspot.read_text(encoding="utf-8")), encoding="utf-8")
    return target
