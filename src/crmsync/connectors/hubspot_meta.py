"""HubSpot's deal properties and pipelines → `CrmSchema`, through hubspot-api-client's
`crm.properties` and `crm.pipelines` APIs.

`HubSpotConnector.deal_schema` calls `read_deal_schema` once per connector (once per run);
`mapping/crm_check.py` checks mapping files against the result. The two APIs' SDK errors are
translated here, as the connector translates the deal APIs' own.
"""

from __future__ import annotations

from typing import Any

from hubspot.crm.pipelines import ApiException as PipelinesApiException
from hubspot.crm.properties import ApiException as PropertiesApiException

from crmsync.connectors import hubspot_convert as convert
from crmsync.domain import Source
from crmsync.errors import AuthError
from crmsync.mapping.crm_schema import CrmField, CrmPipeline, CrmSchema, CrmStage, FieldKind

SCOPE = "give the private app the crm.schemas.deals.read scope (validate and plan check mappings against it)"
_KINDS = {
    "number": FieldKind.NUMBER,
    "date": FieldKind.DATE,
    "datetime": FieldKind.DATE,
    "bool": FieldKind.BOOLEAN,
    "enumeration": FieldKind.CHOICE,
}


def _field(raw: Any) -> CrmField:
    ptype = str(raw.type or "")
    kind = _KINDS.get(ptype, FieldKind.TEXT)
    if ptype == "enumeration" and raw.field_type == "booleancheckbox":
        kind = FieldKind.BOOLEAN  # a single checkbox is an enumeration of true/false
    shown = [o for o in raw.options or () if not o.hidden]
    options, labels = tuple(str(o.value) for o in shown), tuple(str(o.label or o.value) for o in shown)
    return CrmField(str(raw.name), kind, str(raw.label or ""), options, ptype, labels)


def _pipeline(raw: Any) -> CrmPipeline:
    stages = tuple(CrmStage(str(s.id), str(s.label)) for s in raw.stages or () if not s.archived)
    return CrmPipeline(str(raw.id), str(raw.label), stages)


def read_deal_schema(client: Any, timeout: tuple[float, float]) -> CrmSchema:
    """Every deal property and every deal pipeline of the account (two calls)."""
    try:
        properties = client.crm.properties.core_api.get_all("deals", archived=False, _request_timeout=timeout)
        pipelines = client.crm.pipelines.pipelines_api.get_all("deals", _request_timeout=timeout)
    except (PropertiesApiException, PipelinesApiException) as exc:
        if exc.status == 403:  # a token made for deal reads only: say which scope the checks need
            message = f"the token may not read deal properties (403: {convert.error_message(exc)}); {SCOPE}"
            raise AuthError(convert.SERVICE, message, setting=convert.TOKEN_SETTING, status=403) from exc
        raise convert.translate(exc) from exc
    return CrmSchema(
        Source.HUBSPOT,
        tuple(_field(p) for p in properties.results or () if not p.archived),
        pipelines=tuple(_pipeline(p) for p in pipelines.results or () if not p.archived),
    )
