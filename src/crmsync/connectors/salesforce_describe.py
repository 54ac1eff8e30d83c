"""Salesforce's Opportunity describe → `CrmSchema`: fields and their types, StageName's picklist,
the org's record types.

`SalesforceConnector.deal_schema` fetches the describe (once per connector, so once per run) and
converts it here; `mapping/crm_check.py` checks mapping files against the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crmsync.domain import Source
from crmsync.mapping.crm_schema import CrmField, CrmSchema, CrmStage, FieldKind

DESCRIBE_PATH = "sobjects/Opportunity/describe"
_KINDS = {
    "double": FieldKind.NUMBER,
    "currency": FieldKind.NUMBER,
    "int": FieldKind.NUMBER,
    "long": FieldKind.NUMBER,
    "percent": FieldKind.NUMBER,
    "date": FieldKind.DATE,
    "datetime": FieldKind.DATE,
    "boolean": FieldKind.BOOLEAN,
    "picklist": FieldKind.CHOICE,
    "multipicklist": FieldKind.CHOICE,
}


def _picklist(raw: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [p for p in raw.get("picklistValues") or () if p.get("active", True)]


def _field(raw: Mapping[str, Any]) -> CrmField:
    crm_type = str(raw.get("type") or "")
    kind = _KINDS.get(crm_type, FieldKind.TEXT)
    values = tuple(str(p.get("value")) for p in _picklist(raw))
    labels = tuple(str(p.get("label") or p.get("value")) for p in _picklist(raw))
    return CrmField(str(raw["name"]), kind, str(raw.get("label") or ""), values, crm_type, labels)


def schema_from_describe(describe: Mapping[str, Any]) -> CrmSchema:
    """The CrmSchema of an Opportunity describe; the Master record type is not one RevOps can name."""
    fields = tuple(_field(f) for f in describe.get("fields") or ())
    stage = next((f for f in fields if f.name == "StageName"), None)
    stages = tuple(CrmStage(v, stage.label_of(v)) for v in stage.options) if stage else ()
    record_types = tuple(
        str(rt.get("developerName"))
        for rt in describe.get("recordTypeInfos") or ()
        if not rt.get("master") and rt.get("active", True)
    )
    return CrmSchema(Source.SALESFORCE, fields, stages=stages, record_types=record_types)
