"""The Salesforce emulator: a Starlette app serving a `SalesforceState` the way Salesforce does.

REST query/queryAll with nextRecordsUrl paging, /limits, sObject describe (salesforce_describe.py),
the OAuth token endpoint (JWT bearer), the SOAP login, Sforce-Limit-Info and Salesforce's JSON
error lists. Serve it over TLS (`tls.make_tls_files` + `serve.serve_app`): simple-salesforce only
speaks https.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crmsync.sandbox.salesforce_auth import (
    LoginRefused,
    check_jwt_assertion,
    parse_soap_login,
    soap_fault,
    soap_login_response,
)
from crmsync.sandbox.salesforce_describe import describe_body
from crmsync.sandbox.salesforce_schema import salesforce_id
from crmsync.sandbox.salesforce_state import LoggedRequest, SalesforceState
from crmsync.sandbox.soql_lex import SoqlError

__all__ = ["SalesforceState", "make_salesforce_app", "sandbox_login_domain"]

_TOKEN = re.compile(r"^(?:/(?P<prefix>.+?))?/services/oauth2/token$")
_SOAP = re.compile(r"^(?:/(?P<prefix>.+?))?/services/Soap/u/(?P<version>\d+\.\d+)$")
_QUERY = re.compile(r"^/services/data/v(?P<version>\d+\.\d+)/(?P<resource>query|queryAll)/?$")
_MORE = re.compile(r"^/services/data/v(?P<version>\d+\.\d+)/(?P<resource>query|queryAll)/(?P<locator>[^/]+)$")
_LIMITS = re.compile(r"^/services/data/v(?P<version>\d+\.\d+)/limits/?$")
_DESCRIBE = re.compile(r"^/services/data/v(?P<version>\d+\.\d+)/sobjects/(?P<entity>\w+)/describe/?$")
_CANNED: dict[int, tuple[str, str]] = {
    400: ("MALFORMED_QUERY", "injected failure"),
    401: ("INVALID_SESSION_ID", "Session expired or invalid"),
    403: ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
    404: ("NOT_FOUND", "The requested resource does not exist"),
    503: ("SERVER_UNAVAILABLE", "Server temporarily unavailable, please retry later."),
}
_MAX_CURSORS = 50
_MIN_BATCH, _MAX_BATCH = 200, 2000


def sandbox_login_domain(url: str, label: str = "login") -> str:
    """The simple-salesforce `domain` that makes login URLs land on an emulator served at `url`.

    Logins go to `https://{domain}.salesforce.com/services/…`; with `127.0.0.1:PORT/login` that is
    `https://127.0.0.1:PORT/login.salesforce.com/services/…`, which this app answers (it accepts
    any path prefix before `/services/oauth2/token` and `/services/Soap/u/NN.N`).
    """
    return f"{url.split('://', 1)[-1].rstrip('/')}/{label}"


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse([{"message": message, "errorCode": code}], status_code=status)


def _canned(status: int) -> JSONResponse:
    code, message = _CANNED.get(status, ("UNKNOWN_EXCEPTION", "An unexpected error occurred (injected)."))
    return _error(status, code, message)


@dataclass
class _Cursor:
    records: list[dict[str, Any]]
    batch: int


class _App:
    """The request handlers, bound to one state and its open query cursors."""

    def __init__(self, state: SalesforceState) -> None:
        self.state = state
        self.cursors: OrderedDict[str, _Cursor] = OrderedDict()
        self.cursor_lock = threading.Lock()
        self.counter = 0

    async def dispatch(self, request: Request) -> Response:
        path = request.url.path
        if request.method == "POST" and (m := _TOKEN.match(path)):
            response = await self.token(request, m.group("prefix"))
        elif request.method == "POST" and (m := _SOAP.match(path)):
            response = await self.soap(request, m.group("version"))
        else:
            response = self.api(request, path)
        response.headers["Sforce-Limit-Info"] = self.state.usage_header()
        q = request.query_params.get("q")
        batch = request.headers.get("sforce-query-options")
        self.state.record(LoggedRequest(request.method, path, q, batch, response.status_code))
        return response

    # --- logins ----------------------------------------------------------------------------------
    async def token(self, request: Request, prefix: str | None) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        host = request.headers.get("host", "")
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return JSONResponse(
                {"error": "unsupported_grant_type", "error_description": "grant type not supported"}, 400
            )
        audience = f"https://{host}/{prefix}" if prefix else f"https://{host}"
        state = self.state
        try:
            check_jwt_assertion(
                form.get("assertion", ""),
                public_key=state.jwt_public_key,
                consumer_key=state.consumer_key,
                username=state.username,
                audiences=[audience],
            )
        except LoginRefused as exc:
            return JSONResponse({"error": exc.error, "error_description": exc.description}, 400)
        return JSONResponse(
            {
                "access_token": state.issue_token(),
                "instance_url": f"https://{host}",
                "id": f"https://{host}/id/{state.org_id}/{salesforce_id('005', 1)}",
                "token_type": "Bearer",
                "scope": "api",
                "issued_at": str(int(time.time() * 1000)),
            }
        )

    async def soap(self, request: Request, version: str) -> Response:
        state = self.state
        try:
            username, password = parse_soap_login(await request.body())
        except LoginRefused as exc:
            return Response(soap_fault(exc.error, exc.description), 500, media_type="text/xml")
        if username != state.username or password != state.password + state.security_token:
            fault = soap_fault("INVALID_LOGIN", "Invalid username, password, security token; or user locked out.")
            return Response(fault, 500, media_type="text/xml")
        host = request.headers.get("host", "")
        body = soap_login_response(
            session_id=state.issue_token(),
            server_url=f"https://{host}/services/Soap/u/{version}/{state.org_id[:15]}",
            user_id=salesforce_id("005", 1),
            org_id=state.org_id,
            username=state.username,
        )
        return Response(body, 200, media_type="text/xml")

    # --- the REST API ----------------------------------------------------------------------------
    def api(self, request: Request, path: str) -> Response:
        routes = (_QUERY, _MORE, _LIMITS, _DESCRIBE)
        if request.method != "GET" or not any(r.match(path) for r in routes):
            return _canned(404)
        if (status := self.state.take_failure(path)) is not None:
            return _canned(status)
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme not in ("Bearer", "OAuth") or not self.state.token_valid(token):
            return _canned(401)
        if not self.state.count_request():
            return _canned(403)
        batch = _batch_size(request.headers.get("sforce-query-options", ""))
        if m := _QUERY.match(path):
            return self.query(request, m.group("version"), m.group("resource"), batch)
        if m := _MORE.match(path):
            return self.more(m.group("version"), m.group("resource"), m.group("locator"), batch)
        if m := _DESCRIBE.match(path):
            body = describe_body(self.state, m.group("entity"), m.group("version"))
            if body is None:
                return _error(404, "NOT_FOUND", f"The requested resource does not exist: {m.group('entity')}")
            return JSONResponse(body)
        return self.limits()

    def query(self, request: Request, version: str, resource: str, batch: int | None) -> Response:
        soql = request.query_params.get("q")
        if not soql:
            return _error(400, "MALFORMED_QUERY", "A query string has to be specified")
        try:
            records = self.state.run_soql(soql, include_deleted=resource == "queryAll", version=version)
        except SoqlError as exc:
            return _error(400, exc.error_code, exc.message)
        with self.cursor_lock:
            self.counter += 1
            locator = salesforce_id("01g", self.counter)[:15]
            self.cursors[locator] = _Cursor(records, batch or _MAX_BATCH)
            while len(self.cursors) > _MAX_CURSORS:
                self.cursors.popitem(last=False)
        return self.page(version, resource, locator, 0, batch)

    def more(self, version: str, resource: str, locator_offset: str, batch: int | None) -> Response:
        locator, _, offset = locator_offset.rpartition("-")
        with self.cursor_lock:
            known = locator in self.cursors and offset.isdigit() and int(offset) <= len(self.cursors[locator].records)
        if not known:
            return _error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self.page(version, resource, locator, int(offset), batch)

    def page(self, version: str, resource: str, locator: str, offset: int, batch: int | None) -> Response:
        with self.cursor_lock:
            cursor = self.cursors[locator]
        size = batch or cursor.batch
        records = cursor.records[offset : offset + size]
        body: dict[str, Any] = {"totalSize": len(cursor.records), "done": offset + size >= len(cursor.records)}
        if not body["done"]:
            body["nextRecordsUrl"] = f"/services/data/v{version}/{resource}/{locator}-{offset + size}"
        body["records"] = records
        return JSONResponse(body)

    def limits(self) -> Response:
        state = self.state
        total = state.request_limit if state.request_limit is not None else state.api_allocation
        return JSONResponse({"DailyApiRequests": {"Max": total, "Remaining": max(total - state.api_used, 0)}})


def _batch_size(header: str) -> int | None:
    m = re.search(r"batchSize=(\d+)", header)
    return min(max(int(m.group(1)), _MIN_BATCH), _MAX_BATCH) if m else None


def make_salesforce_app(state: SalesforceState) -> Starlette:
    """An ASGI app emulating the parts of Salesforce crmsync uses, backed by `state`."""
    handlers = _App(state)
    return Starlette(routes=[Route("/{path:path}", handlers.dispatch, methods=["GET", "POST"])])
