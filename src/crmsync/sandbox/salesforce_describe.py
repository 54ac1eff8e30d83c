"""The Salesforce emulator's sObject describe: `GET /services/data/vNN.N/sobjects/{sObject}/describe`.

`salesforce.py` routes the request here; the answer has the shape simple-salesforce's
`sf.Opportunity.describe()` returns: `fields` (name, label, type, picklistValues, relationshipName,
referenceTo, custom) and `recordTypeInfos` (always the Master record type, then the org's own).
"""

from __future__ import annotations

from typing import Any

from crmsync.sandbox.salesforce_schema import RELATIONSHIPS
from crmsync.sandbox.salesforce_state import SalesforceState
from crmsync.sandbox.soql_eval import FieldType

MASTER_RECORD_TYPE_ID = "012000000000000AAA"
# The picklist values of StageName in a new org (Salesforce's defaults), before any the data adds.
DEFAULT_STAGES = (
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
)


def _picklist(values: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{"active": True, "defaultValue": False, "label": label, "validFor": None, "value": value}
            for value, label in values]  # fmt: skip


def _values(state: SalesforceState, entity: str, name: str, stages: list[str]) -> list[tuple[str, str]]:
    """A picklist's (value, label) pairs: StageName's, or a custom picklist's as declared."""
    if entity != "Opportunity":
        return []
    return [(s, s) for s in stages] if name == "StageName" else state.picklists.get(name, [])


def _field(state: SalesforceState, entity: str, name: str, ftype: FieldType, stages: list[str]) -> dict[str, Any]:
    rels = RELATIONSHIPS.values() if entity == "Opportunity" else ()
    relationship = next((r for r in rels if r.id_field == name), None)
    return {
        "name": name,
        "label": name.removesuffix("__c").replace("_", " "),
        "type": ftype.value,
        "custom": name.endswith("__c"),
        "nillable": name not in ("Id", "Name", "StageName", "CloseDate", "IsDeleted"),
        "picklistValues": _picklist(_values(state, entity, name, stages)),
        "relationshipName": relationship.name if relationship else None,
        "referenceTo": [relationship.target] if relationship else [],
    }


def _record_type_info(rt: dict[str, Any], *, master: bool = False) -> dict[str, Any]:
    return {
        "active": True,
        "available": True,
        "defaultRecordTypeMapping": master,
        "developerName": rt["DeveloperName"],
        "master": master,
        "name": rt["Name"],
        "recordTypeId": rt["Id"],
    }


def describe_body(state: SalesforceState, entity: str, version: str) -> dict[str, Any] | None:
    """The describe result of one sObject, or None when the org has no such sObject."""
    described = state.describe(entity)
    if described is None:
        return None
    fields, record_types, used_stages = described
    name = next(e for e in ("Opportunity", "Account", "RecordType") if e.lower() == entity.lower())
    stages = list(dict.fromkeys([*DEFAULT_STAGES, *used_stages]))
    master = {"DeveloperName": "Master", "Name": "Master", "Id": MASTER_RECORD_TYPE_ID}
    return {
        "name": name,
        "label": name,
        "custom": False,
        "queryable": True,
        "fields": [_field(state, name, f, t, stages) for f, t in fields.items()],
        "recordTypeInfos": [_record_type_info(master, master=True), *(_record_type_info(rt) for rt in record_types)],
        "urls": {"describe": f"/services/data/v{version}/sobjects/{name}/describe"},
    }
