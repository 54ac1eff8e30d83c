"""Drive a running `crmsync sandbox` from another shell: a loopback control endpoint served beside the
emulators changes a HubSpot deal or a Salesforce opportunity as a salesperson would (close, update,
delete), so whatever reads or subscribes to the emulated CRM sees the change (and a `--push-to` serve
gets its signed webhook); `drive()` is the client `crmsync sandbox deal|opportunity …` calls.

    POST /deals/{id}          {"action": "close" | "update" | "delete", "fields": {"seats_purchased": "300"}}
    POST /opportunities/{id}  the same, for Salesforce (field values converted to the field's type)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from crmsync.sandbox.soql_eval import FieldType

if TYPE_CHECKING:
    from crmsync.sandbox.runner import Sandbox

ACTIONS = ("close", "update", "delete")
HUBSPOT_WON = "closedwon"
SALESFORCE_WON = "Closed Won"


class ControlError(Exception):
    """The running sandbox refused a change (unknown id, field or action), or is not there."""


def make_control_app(sb: Sandbox) -> Starlette:
    """The control endpoint of a running sandbox."""

    async def deal(request: Request) -> JSONResponse:
        deal_id, (action, fields) = request.path_params["deal_id"], await _body(request)
        if action not in ACTIONS:
            return _error(400, f"the action is one of {', '.join(ACTIONS)}, with fields a JSON object")
        hubspot = sb.hubspot
        if deal_id not in hubspot.deals:
            return _error(404, f"no HubSpot deal {deal_id} in the sandbox")
        if action == "delete":
            hubspot.archive_deal(deal_id)
        else:
            changes = ({"dealstage": HUBSPOT_WON} if action == "close" else {}) | {k: str(v) for k, v in fields.items()}
            if not changes:
                return _error(400, "update needs at least one name=value")
            try:
                hubspot.update_deal(deal_id, **changes)
            except ValueError as exc:
                return _error(400, str(exc))
        return JSONResponse({"deal": deal_id, "action": action, "properties": dict(hubspot.deals[deal_id].properties)})

    async def opportunity(request: Request) -> JSONResponse:
        opp_id, (action, fields) = request.path_params["opportunity_id"], await _body(request)
        if action not in ACTIONS:
            return _error(400, f"the action is one of {', '.join(ACTIONS)}, with fields a JSON object")
        salesforce = sb.salesforce
        if salesforce is None or salesforce.get("Opportunity", opp_id) is None:
            return _error(404, f"no Salesforce opportunity {opp_id} in the sandbox")
        try:
            if action == "delete":
                salesforce.delete_opportunity(opp_id)
            else:
                won = {"StageName": SALESFORCE_WON, "IsWon": True, "IsClosed": True} if action == "close" else {}
                types = (salesforce.describe("Opportunity") or ({}, [], []))[0]
                changes = won | {k: _typed(types.get(k), v) for k, v in fields.items()}
                if not changes:
                    return _error(400, "update needs at least one name=value")
                salesforce.update_opportunity(opp_id, **changes)
        except ValueError as exc:
            return _error(400, str(exc))
        row = {k: v if isinstance(v, str | int | float | bool) or v is None else str(v)
               for k, v in salesforce.opportunity(opp_id).items()}  # fmt: skip
        return JSONResponse({"opportunity": opp_id, "action": action, "fields": row})

    return Starlette(
        routes=[
            Route("/deals/{deal_id}", deal, methods=["POST"]),
            Route("/opportunities/{opportunity_id}", opportunity, methods=["POST"]),
        ]
    )


async def _body(request: Request) -> tuple[str, dict[str, Any]]:
    try:
        data = await request.json()
    except ValueError:
        return "invalid", {}
    action = data.get("action") if isinstance(data, dict) else None
    fields = data.get("fields") or {} if isinstance(data, dict) else {}
    if action not in ACTIONS or not isinstance(fields, dict):
        return "invalid", {}
    return str(action), fields


def _typed(ftype: FieldType | None, text: Any) -> Any:
    """A value typed at the shell as the field holds it (`true`, `300`, `2027-01-31`)."""
    if not isinstance(text, str):
        return text
    if ftype is FieldType.BOOLEAN:
        if text.lower() not in ("true", "false"):
            raise ValueError(f"a boolean field takes true or false, not {text!r}")
        return text.lower() == "true"
    if ftype in (FieldType.DOUBLE, FieldType.CURRENCY) or (ftype is None and _is_number(text)):
        return float(text)
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def drive(url: str, kind: str, record_id: str, action: str, fields: Mapping[str, str]) -> dict[str, Any]:
    """Ask the sandbox at `url` to close, update or delete a deal (`kind` "deals") or an opportunity
    ("opportunities"); its answer (the record as it is now), or ControlError saying why not."""
    path = f"{url.rstrip('/')}/{kind}/{record_id}"
    try:
        answer = httpx.post(path, json={"action": action, "fields": dict(fields)}, timeout=10)
    except httpx.HTTPError as exc:
        raise ControlError(
            f"no sandbox answers at {url} ({type(exc).__name__}); start one with `crmsync sandbox`"
        ) from exc
    body: dict[str, Any] = (
        answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
    )
    if answer.status_code != 200:
        raise ControlError(str(body.get("error") or f"the sandbox answered {answer.status_code}"))
    return body
