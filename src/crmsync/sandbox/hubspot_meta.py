"""The HubSpot emulator's deal properties API: `GET /crm/v3/properties/deals[/{propertyName}]`.

HubSpot's default deal properties plus every custom one: those declared in
`state.property_types` (name → `string | number | date | datetime | bool | enumeration`) and those
any deal carries, typed by their values (all numbers → number, all dates → date, all true/false →
bool, else string). Shapes follow /work/shared/specs/hubspot/properties.json; `hubspot.py` routes here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from crmsync.sandbox.common import Call, Reply
from crmsync.sandbox.hubspot_api import error_reply

if TYPE_CHECKING:
    from crmsync.sandbox.hubspot import HubSpotState

# type → HubSpot's fieldType for it
FIELD_TYPES = {
    "string": "text",
    "number": "number",
    "date": "date",
    "datetime": "date",
    "bool": "booleancheckbox",
    "enumeration": "select",
}
# HubSpot-defined deal properties crmsync may meet (name: type, label); dealstage/pipeline get options.
DEFAULTS: dict[str, tuple[str, str]] = {
    "dealname": ("string", "Deal Name"),
    "dealstage": ("enumeration", "Deal Stage"),
    "pipeline": ("enumeration", "Pipeline"),
    "closedate": ("datetime", "Close Date"),
    "amount": ("number", "Amount"),
    "dealtype": ("enumeration", "Deal Type"),
    "createdate": ("datetime", "Create Date"),
    "hs_lastmodifieddate": ("datetime", "Last Modified Date"),
    "hs_object_id": ("number", "Record ID"),
    "hs_is_closed": ("bool", "Is Deal Closed?"),
    "hs_is_closed_won": ("bool", "Is Closed Won"),
    "hubspot_owner_id": ("enumeration", "Deal owner"),
}
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
STAMP = "2024-01-01T00:00:00.000Z"


def infer_type(values: Iterable[str]) -> str:
    """The HubSpot type a custom property's values suggest."""
    seen = [v.strip() for v in values if v.strip()]
    if seen and all(_NUMBER.fullmatch(v) for v in seen):
        return "number"
    if seen and all(_DATE.fullmatch(v) for v in seen):
        return "date"
    if seen and all(_DATETIME.match(v) for v in seen):
        return "datetime"
    if seen and all(v.lower() in ("true", "false") for v in seen):
        return "bool"
    return "string"


def _options(state: HubSpotState, name: str) -> list[dict[str, Any]]:
    if name == "pipeline":
        pairs = [(p.id, p.label) for p in state.pipelines.values()]
    elif name == "dealstage":
        pairs = list({s.id: (s.id, s.label) for p in state.pipelines.values() for s in p.stages}.values())
    elif name == "dealtype":
        pairs = [("newbusiness", "New Business"), ("existingbusiness", "Existing Business")]
    else:
        pairs = list(getattr(state, "property_options", {}).get(name, ()))
    return [
        {"label": label, "value": value, "displayOrder": n, "hidden": False} for n, (value, label) in enumerate(pairs)
    ]


def _property(state: HubSpotState, name: str, ptype: str, label: str, hubspot_defined: bool) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": ptype,
        "fieldType": FIELD_TYPES.get(ptype, "text"),
        "description": "",
        "groupName": "dealinformation",
        "options": _options(state, name),
        "displayOrder": -1,
        "calculated": False,
        "externalOptions": False,
        "hasUniqueValue": name == "hs_object_id",
        "hidden": False,
        "hubspotDefined": hubspot_defined,
        "formField": not hubspot_defined,
        "archived": False,
        "createdAt": STAMP,
        "updatedAt": STAMP,
        "modificationMetadata": {"archivable": not hubspot_defined, "readOnlyDefinition": hubspot_defined,
                                 "readOnlyValue": name in ("hs_object_id", "createdate", "hs_lastmodifieddate")},
    }  # fmt: skip


def deal_properties(state: HubSpotState) -> list[dict[str, Any]]:
    """Every deal property definition, HubSpot's first, then custom ones by name."""
    out = [_property(state, n, t, label, True) for n, (t, label) in DEFAULTS.items()]
    values: dict[str, list[str]] = {}
    for deal in state.deals.values():
        for name, value in deal.properties.items():
            if name not in DEFAULTS:
                values.setdefault(name, []).append(value)
    declared: dict[str, str] = dict(getattr(state, "property_types", {}))
    for name in sorted(set(values) | set(declared)):
        if name in DEFAULTS:
            continue
        ptype = declared.get(name) or infer_type(values.get(name, ()))
        label = getattr(state, "property_labels", {}).get(name) or name.replace("_", " ").capitalize()
        out.append(_property(state, name, ptype, label, False))
    return out


def list_properties(state: HubSpotState, call: Call) -> Reply:
    """GET /crm/v3/properties/deals: every deal property (archived ones: none)."""
    if (call.first("archived") or "false").lower() == "true":
        return Reply(200, {"results": []})
    return Reply(200, {"results": deal_properties(state)})


def get_property(state: HubSpotState, call: Call) -> Reply:
    """GET /crm/v3/properties/deals/{property_name}: one definition, or 404."""
    wanted = call.path_params.get("property_name", "")
    found = next((p for p in deal_properties(state) if p["name"] == wanted), None)
    if found is None:
        return error_reply(404, f"Unable to find property {wanted} on object type deals")
    return Reply(200, found)
