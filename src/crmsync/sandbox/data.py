"""The sandbox seed: what the emulators start with, read from JSON (`sample.json` by default).

`load_data(path)` parses and validates a seed file into frozen dataclasses, reporting every
problem at once with its JSON path; the format is documented on `SandboxData`. The runner
hands the parts to `HubSpotState.load` and `SchematicState.load`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from crmsync.errors import ConfigError
from crmsync.sandbox.salesforce_state import SalesforceState, SeedError
from crmsync.sandbox.schematic_model import FEATURE_TYPES, InvalidField, override_fields

DEFAULT_HUBSPOT_TOKEN = "pat-na1-sandbox-token"
DEFAULT_SCHEMATIC_KEY = "sch_dev_sandbox_key"
DEFAULT_ENVIRONMENT = "env_sandbox"
T = TypeVar("T")


@dataclass(frozen=True)
class Stage:
    """A HubSpot pipeline stage; won = closed with probability 1.0."""

    id: str
    label: str
    is_closed: bool = False
    probability: float = 0.0


@dataclass(frozen=True)
class Pipeline:
    """A HubSpot deal pipeline and its stages, in display order."""

    id: str
    label: str
    stages: tuple[Stage, ...] = ()


@dataclass(frozen=True)
class HubSpotCompany:
    """A HubSpot company (only its id and name matter to the emulator)."""

    id: str
    name: str


@dataclass(frozen=True)
class HubSpotProperty:
    """A custom deal property defined before any deal holds it: type, label, options (value, label)."""

    name: str
    type: str
    label: str = ""
    options: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class HubSpotDeal:
    """A seeded HubSpot deal: string properties, associated companies, the primary one."""

    id: str
    properties: Mapping[str, str]
    company_ids: tuple[str, ...] = ()
    primary_company_id: str | None = None
    archived: bool = False


@dataclass(frozen=True)
class HubSpotSeed:
    """Everything the HubSpot emulator starts with."""

    access_token: str = DEFAULT_HUBSPOT_TOKEN
    companies: tuple[HubSpotCompany, ...] = ()
    pipelines: tuple[Pipeline, ...] = ()
    deals: tuple[HubSpotDeal, ...] = ()
    properties: tuple[HubSpotProperty, ...] = ()


@dataclass(frozen=True)
class SchematicFeature:
    """A Schematic feature; `flag_key` is its flag's key (features have no key of their own)."""

    id: str
    name: str
    feature_type: str
    flag_key: str | None = None


@dataclass(frozen=True)
class Entitlement:
    """A plan version's entitlement to one feature."""

    feature_id: str
    value_type: str
    value_bool: bool | None = None
    value_numeric: int | None = None
    metric_period: str | None = None
    metric_period_month_reset: str | None = None


@dataclass(frozen=True)
class SchematicPlan:
    """A plan (or add-on) with one version (`version_id`, `plvr_…`; None: a plan without
    version, which has no entitlements) and its entitlements."""

    id: str
    name: str
    version_id: str | None
    entitlements: tuple[Entitlement, ...] = ()
    plan_type: str = "plan"  # plan | add_on


@dataclass(frozen=True)
class SchematicCompany:
    """A Schematic company with its keys (name → value; none is allowed), base plan (by version,
    or by `plan_id` for a plan without version; neither: no plan), add-on plan versions, traits."""

    id: str
    name: str
    keys: Mapping[str, str] = field(default_factory=dict)
    plan_version_id: str | None = None
    plan_id: str | None = None
    add_ons: tuple[str, ...] = ()
    traits: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SeedOverride:
    """An override present before crmsync runs (e.g. granted by hand by support)."""

    company_id: str
    feature_id: str
    value_type: str
    value_bool: bool | None = None
    value_numeric: int | None = None
    value_trait_id: str | None = None
    metric_period: str | None = None
    metric_period_month_reset: str | None = None
    expiration_date: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class SchematicSeed:
    """Everything the Schematic emulator starts with."""

    api_key: str = DEFAULT_SCHEMATIC_KEY
    environment_id: str = DEFAULT_ENVIRONMENT
    features: tuple[SchematicFeature, ...] = ()
    plans: tuple[SchematicPlan, ...] = ()
    companies: tuple[SchematicCompany, ...] = ()
    overrides: tuple[SeedOverride, ...] = ()


@dataclass(frozen=True)
class SandboxData:
    """A whole seed. JSON format (every key optional; lists default to empty)::

        {"hubspot": {"access_token": "pat-…",
                     "companies": [{"id": "5001", "name": "Acme Corp"}],
                     "pipelines": [{"id": "default", "label": "Sales Pipeline", "stages": [
                         {"id": "closedwon", "label": "Closed won", "is_closed": true, "probability": 1.0}]}],
                     "deals": [{"id": "1001", "companies": ["5001", "5002"], "primary_company": "5001",
                                "archived": false,
                                "properties": {"dealname": "…", "seats_purchased": "50"}}]},
         "schematic": {"api_key": "sch_dev_…", "environment_id": "env_…",
                       "features": [{"id": "feat_seats", "name": "Seats", "feature_type": "trait",
                                     "flag_key": "seats"}],
                       "plans": [{"id": "plan_starter", "name": "Starter", "version_id": "plvr_starter",
                                  "entitlements": [{"feature_id": "feat_seats", "value_type": "numeric",
                                                    "value_numeric": 20, "metric_period": null}]}],
                       "companies": [{"id": "comp_acme", "name": "Acme Corp",
                                      "keys": {"hubspot_company_id": "5001"},
                                      "plan_version_id": "plvr_starter",
                                      "add_ons": ["plvr_sso_addon"], "traits": {"region": "eu"}}],
                       "overrides": [{"company_id": "comp_globex", "feature_id": "feat_seats",
                                      "value_type": "numeric", "value_numeric": 35, "note": "…"}]},
         "salesforce": {…}}

    Deal property values are strings, as HubSpot sends them; `primary_company` defaults to the
    first of `companies`. Overrides, entitlements and companies must name features, companies and
    plan versions of the seed. A plan has `"plan_type": "add_on"` to be an add-on, and
    `"version_id": null` to have no version (a company on it names it by `"plan_id"`). The
    `salesforce` section is kept raw for the Salesforce emulator (format on `SalesforceState`),
    after checking that the emulator can hold it.
    """

    hubspot: HubSpotSeed = field(default_factory=HubSpotSeed)
    schematic: SchematicSeed = field(default_factory=SchematicSeed)
    salesforce: Mapping[str, Any] | None = None
    source: str = "<memory>"


class _Reader:
    """Reads typed fields out of parsed JSON, collecting located problems instead of raising."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def obj(self, value: object, where: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problems.append(f"{where}: expected an object")
            return {}
        return value

    def items(self, value: object, where: str) -> list[tuple[str, dict[str, Any]]]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problems.append(f"{where}: expected a list")
            return []
        return [(f"{where}[{i}]", self.obj(item, f"{where}[{i}]")) for i, item in enumerate(value)]

    def get(
        self,
        raw: Mapping[str, Any],
        key: str,
        where: str,
        kind: type[T] | tuple[type, ...],
        default: Any = None,
        *,
        required: bool = False,
    ) -> Any:
        if key not in raw or raw[key] is None:
            if required:
                self.problems.append(f"{where}.{key}: required")
            return default
        value = raw[key]
        if isinstance(value, bool) and kind in (int, float, (int, float)):
            self.problems.append(f"{where}.{key}: expected a number, got {value!r}")
            return default
        if not isinstance(value, kind):
            self.problems.append(f"{where}.{key}: expected {getattr(kind, '__name__', kind)}, got {value!r}")
            return default
        return value

    def strings(self, raw: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
        mapping = self.obj(raw.get(key), f"{where}.{key}")
        bad = [k for k, v in mapping.items() if not isinstance(v, str)]
        for k in bad:
            self.problems.append(f"{where}.{key}.{k}: values must be strings, got {mapping[k]!r}")
        return {k: v for k, v in mapping.items() if isinstance(v, str)}


def _hubspot(r: _Reader, raw: dict[str, Any]) -> HubSpotSeed:
    companies = tuple(
        HubSpotCompany(r.get(c, "id", w, str, "", required=True), r.get(c, "name", w, str, ""))
        for w, c in r.items(raw.get("companies"), "hubspot.companies")
    )
    pipelines = tuple(
        Pipeline(
            r.get(p, "id", w, str, "", required=True),
            r.get(p, "label", w, str, ""),
            tuple(
                Stage(
                    r.get(s, "id", ws, str, "", required=True),
                    r.get(s, "label", ws, str, ""),
                    r.get(s, "is_closed", ws, bool, False),
                    float(r.get(s, "probability", ws, (int, float), 0.0)),
                )
                for ws, s in r.items(p.get("stages"), f"{w}.stages")
            ),
        )
        for w, p in r.items(raw.get("pipelines"), "hubspot.pipelines")
    )
    deals = []
    for w, d in r.items(raw.get("deals"), "hubspot.deals"):
        company_ids = r.get(d, "companies", w, list, [])
        if not all(isinstance(c, str) for c in company_ids):
            r.problems.append(f"{w}.companies: expected a list of company id strings")
            company_ids = []
        primary = r.get(d, "primary_company", w, str, company_ids[0] if company_ids else None)
        deals.append(
            HubSpotDeal(
                r.get(d, "id", w, str, "", required=True),
                r.strings(d, "properties", w),
                tuple(company_ids),
                primary,
                r.get(d, "archived", w, bool, False),
            )
        )
    token = r.get(raw, "access_token", "hubspot", str, DEFAULT_HUBSPOT_TOKEN)
    properties = tuple(
        HubSpotProperty(r.get(p, "name", w, str, "", required=True), r.get(p, "type", w, str, "string"),
                        r.get(p, "label", w, str, ""),
                        tuple((str(o.get("value")), str(o.get("label", o.get("value"))))
                              for o in r.get(p, "options", w, list, []) if isinstance(o, dict)))
        for w, p in r.items(raw.get("properties"), "hubspot.properties"))  # fmt: skip
    return HubSpotSeed(token, companies, pipelines, tuple(deals), properties)


def _fields(
    r: _Reader, raw: dict[str, Any], where: str, spec: Mapping[str, type | tuple[type, ...]], required: tuple[str, ...]
) -> dict[str, Any]:
    return {name: r.get(raw, name, where, kind, required=name in required) for name, kind in spec.items()}


_VALUE = {
    "value_type": str,
    "value_bool": bool,
    "value_numeric": int,
    "metric_period": str,
    "metric_period_month_reset": str,
}
_OVERRIDE = {"company_id": str, "feature_id": str, **_VALUE, "value_trait_id": str, "expiration_date": str, "note": str}
_PLAN = {"id": str, "name": str, "version_id": str, "plan_type": str}
_ENTITLEMENT = {"feature_id": str, **_VALUE}


def _schematic(r: _Reader, raw: dict[str, Any]) -> SchematicSeed:
    feature_spec = {"id": str, "name": str, "feature_type": str, "flag_key": str}
    features = tuple(
        SchematicFeature(**_fields(r, f, w, feature_spec, ("id", "name", "feature_type")))
        for w, f in r.items(raw.get("features"), "schematic.features")
    )
    plans = tuple(
        SchematicPlan(
            **{**_fields(r, p, w, _PLAN, ("id", "name")), "plan_type": p.get("plan_type") or "plan"},
            entitlements=tuple(
                Entitlement(**_fields(r, e, we, _ENTITLEMENT, ("feature_id", "value_type")))
                for we, e in r.items(p.get("entitlements"), f"{w}.entitlements")
            ),
        )
        for w, p in r.items(raw.get("plans"), "schematic.plans")
    )
    company_spec = {"id": str, "name": str, "plan_version_id": str, "plan_id": str}
    companies = tuple(
        SchematicCompany(
            **_fields(r, c, w, company_spec, ("id", "name")),
            keys=r.strings(c, "keys", w),
            add_ons=tuple(_add_ons(r, c, w)),
            traits=r.obj(c.get("traits"), f"{w}.traits"),
        )
        for w, c in r.items(raw.get("companies"), "schematic.companies")
    )
    overrides = tuple(
        SeedOverride(**_fields(r, o, w, _OVERRIDE, ("company_id", "feature_id", "value_type")))
        for w, o in r.items(raw.get("overrides"), "schematic.overrides")
    )
    return SchematicSeed(
        r.get(raw, "api_key", "schematic", str, DEFAULT_SCHEMATIC_KEY),
        r.get(raw, "environment_id", "schematic", str, DEFAULT_ENVIRONMENT),
        features,
        plans,
        companies,
        overrides,
    )


def _add_ons(r: _Reader, raw: Mapping[str, Any], where: str) -> list[str]:
    values = r.get(raw, "add_ons", where, list, [])
    if not all(isinstance(v, str) for v in values):
        r.problems.append(f"{where}.add_ons: expected a list of add-on plan version ids")
        return []
    return [str(v) for v in values]


def _plan_references(r: _Reader, seed: SchematicSeed) -> None:
    """Plan types, plans without version, and what companies name of plans."""
    versions = {p.version_id: p for p in seed.plans if p.version_id is not None}
    plan_ids = {p.id for p in seed.plans}
    for i, p in enumerate(seed.plans):
        if p.plan_type not in ("plan", "add_on"):
            r.problems.append(f"schematic.plans[{i}].plan_type: expected plan or add_on, got {p.plan_type!r}")
        if p.version_id is None and p.entitlements:
            r.problems.append(f"schematic.plans[{i}].entitlements: a plan without version_id has no entitlements")
    for i, c in enumerate(seed.companies):
        if c.plan_id is not None and c.plan_id not in plan_ids:
            r.problems.append(f"schematic.companies[{i}].plan_id: unknown plan {c.plan_id!r}")
        r.problems.extend(
            f"schematic.companies[{i}].add_ons: {v!r} is not the version of an add-on plan"
            for v in c.add_ons
            if v not in versions or versions[v].plan_type != "add_on"
        )


def _references(r: _Reader, seed: SchematicSeed) -> None:
    """What `SchematicState.load` would refuse: unknown ids, feature types, override values."""
    features, companies = {f.id for f in seed.features}, {c.id for c in seed.companies}
    versions = {p.version_id for p in seed.plans}
    for i, f in enumerate(seed.features):
        if f.feature_type and f.feature_type not in FEATURE_TYPES:
            r.problems.append(
                f"schematic.features[{i}].feature_type: expected one of {', '.join(FEATURE_TYPES)}, "
                f"got {f.feature_type!r}"
            )
    for i, p in enumerate(seed.plans):
        r.problems.extend(
            f"schematic.plans[{i}].entitlements[{j}].feature_id: unknown feature {e.feature_id!r}"
            for j, e in enumerate(p.entitlements)
            if e.feature_id and e.feature_id not in features
        )
    r.problems.extend(
        f"schematic.companies[{i}].plan_version_id: unknown plan version {c.plan_version_id!r}"
        for i, c in enumerate(seed.companies)
        if c.plan_version_id is not None and c.plan_version_id not in versions
    )
    for i, o in enumerate(seed.overrides):
        where = f"schematic.overrides[{i}]"
        if o.company_id and o.company_id not in companies:
            r.problems.append(f"{where}.company_id: unknown company {o.company_id!r}")
        if o.feature_id and o.feature_id not in features:
            r.problems.append(f"{where}.feature_id: unknown feature {o.feature_id!r}")
        if o.value_type is not None:
            try:
                override_fields({k: v for k, v in vars(o).items() if k not in ("company_id", "feature_id")})
            except InvalidField as exc:
                r.problems.append(f"{where}: {exc}")


def _salesforce(r: _Reader, raw: object) -> Mapping[str, Any] | None:
    """The raw section, once `SalesforceState.from_seed` has shown it can be held."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        r.problems.append("$.salesforce: expected an object")
        return None
    try:
        SalesforceState.from_seed(raw)
    except SeedError as exc:
        r.problems.append(f"$.salesforce.{exc}")
    return raw


def parse_data(raw: object, source: str = "<memory>") -> SandboxData:
    """Validate parsed seed JSON; raise ConfigError listing every problem found."""
    r = _Reader()
    top = r.obj(raw, "$")
    unknown = sorted(set(top) - {"hubspot", "schematic", "salesforce"})
    r.problems.extend(f"$.{key}: unknown section (expected hubspot, schematic or salesforce)" for key in unknown)
    data = SandboxData(
        _hubspot(r, r.obj(top.get("hubspot"), "hubspot")),
        _schematic(r, r.obj(top.get("schematic"), "schematic")),
        _salesforce(r, top.get("salesforce")),
        source,
    )
    _references(r, data.schematic)
    _plan_references(r, data.schematic)
    if r.problems:
        raise ConfigError(f"{source}: invalid sandbox data:\n" + "\n".join(f"  {p}" for p in r.problems))
    return data


def sample_data_path() -> Path:
    """The bundled sample data set (`crmsync/sandbox/sample.json`)."""
    return Path(__file__).with_name("sample.json")


def load_data(path: str | Path | None = None) -> SandboxData:
    """Read and validate a seed file; None reads the bundled sample."""
    file = Path(path) if path is not None else sample_data_path()
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read sandbox data: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ConfigError(f"{file}: sandbox data is not valid JSON: {exc}") from exc
    return parse_data(raw, str(file))
