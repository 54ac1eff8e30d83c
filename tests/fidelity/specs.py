"""The vendors' OpenAPI specs (`<repo>/../shared/specs/`) and the check of one recorded exchange.

`find_specs()` locates the folder (override: CRMSYNC_SPECS_DIR); `Validator` routes an
`Exchange` to the spec that documents its path and lists every mismatch of the request and of
the response as one line each (`where: what`), via openapi-core.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.templating.responses.exceptions import ResponseNotFound
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from crmsync.sandbox.recording import Exchange

REPO = Path(__file__).resolve().parents[2]
HUBSPOT_FILES = ("deals", "associations", "associationsSchema", "pipelines", "properties", "companies")
# HubSpot serves a deal path under its object name and its type id alike; the spec is written
# with the type id (0-3), hubspot-api-client sends the name. Not a deviation: one resource.
HUBSPOT_ALIASES = {"/crm/v3/objects/deals": "/crm/v3/objects/0-3"}


def find_specs() -> Path | None:
    """The specs folder: $CRMSYNC_SPECS_DIR, else `<repo>/../shared/specs` (as in CI); None if absent."""
    override = os.environ.get("CRMSYNC_SPECS_DIR")
    folder = Path(override) if override else REPO.parent / "shared" / "specs"
    return folder if (folder / "schematic" / "schematic.yaml").is_file() else None


@dataclass(frozen=True)
class Mismatch:
    """One way an exchange differs from the spec: `side` request/response, `where` a JSON path."""

    service: str
    operation: str  # "POST /crm/v3/objects/0-3/search"
    side: str
    status: int
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.service} {self.operation} {self.side} {self.status} at {self.where or '$'}: {self.what}"


class Validator:
    """openapi-core over the HubSpot files and Schematic's spec."""

    def __init__(self, folder: Path) -> None:
        # HubSpot documents its error bodies as `*/*`: read them as the JSON they are. The specs
        # themselves are not re-validated (they are the vendors' published files, as they are).
        config = Config(extra_media_type_deserializers={"*/*": json.loads}, spec_validator_cls=None)
        raw_hubspot = {name: json.loads((folder / "hubspot" / f"{name}.json").read_text()) for name in HUBSPOT_FILES}
        self.hubspot = [(name, OpenAPI.from_dict(raw, config=config)) for name, raw in raw_hubspot.items()]
        self.hubspot_paths = {name: list(raw["paths"]) for name, raw in raw_hubspot.items()}
        raw = yaml.load((folder / "schematic" / "schematic.yaml").read_text(), Loader=yaml.CSafeLoader)
        self.schematic_paths = list(raw["paths"])
        self.schematic = OpenAPI.from_dict(raw, config=config)
        # Each vendor's generic error schema, as a one-path spec: for statuses an operation does not
        # list and for routes no spec has, the body must still be the vendor's error JSON.
        self.error_specs = {
            "hubspot": _error_spec(raw_hubspot["deals"], "Error", config),
            "schematic": _error_spec(raw, "ApiError", config),
        }

    def spec_for(self, service: str, path: str) -> OpenAPI | None:
        """The spec documenting `path`, or None (a route the vendor does not have)."""
        if service == "schematic":
            return self.schematic
        for name, api in self.hubspot:
            if any(_fits(template, path) for template in self.hubspot_paths[name]):
                return api
        return None

    def template(self, service: str, path: str) -> str | None:
        """The spec's path template for `path` (a literal segment beats a parameter), or None."""
        templates = (
            self.schematic_paths
            if service == "schematic"
            else [t for paths in self.hubspot_paths.values() for t in paths]
        )
        fitting = [t for t in templates if _fits(t, path)]
        return min(fitting, key=lambda t: t.count("{")) if fitting else None

    def check(self, service: str, exchange: Exchange) -> tuple[str, list[Mismatch]]:
        """The operation ("METHOD /template") and every mismatch of one exchange."""
        path = exchange.path
        if service == "hubspot":
            for alias, canonical in HUBSPOT_ALIASES.items():
                if path.startswith(alias):
                    path = canonical + path[len(alias) :]
        operation = f"{exchange.method} {self.template(service, path) or path}"
        server = "https://api.hubapi.com" if service == "hubspot" else "https://api.schematichq.com"
        request = _request(server, path, exchange)
        response = _response(exchange)
        api = self.spec_for(service, path)
        with warnings.catch_warnings():
            # openapi-core cannot check HubSpot's OAuth scheme and says so; the private-app bearer
            # token it also lists is checked.
            warnings.filterwarnings("ignore", "Unsupported scheme type", UserWarning)
            request_errors = [] if api is None else list(api.iter_request_errors(request))
        if api is None or any(isinstance(e, (PathNotFound, OperationNotFound)) for e in request_errors):
            # A route the vendor does not have: the emulator must answer 404/405 in the error JSON.
            found = (
                []
                if exchange.status in (404, 405)
                else [
                    Mismatch(
                        service, operation, "response", exchange.status, "", "an unserved route must answer 404/405"
                    )
                ]
            )
            return f"(unserved) {exchange.method}", found + self._error_body(service, operation, exchange)
        found = [m for e in request_errors for m in _mismatch(service, operation, "request", exchange.status, e)]
        response_errors = list(api.iter_response_errors(request, response))
        if any(isinstance(e, ResponseNotFound) for e in response_errors):
            found.append(
                Mismatch(
                    service,
                    operation,
                    "response",
                    exchange.status,
                    "",
                    f"status {exchange.status} is not documented for this operation",
                )
            )
            return operation, found + self._error_body(service, operation, exchange)
        found += [m for e in response_errors for m in _mismatch(service, operation, "response", exchange.status, e)]
        return operation, found

    def _error_body(self, service: str, operation: str, exchange: Exchange) -> list[Mismatch]:
        """The body of an answer no operation documents, against the vendor's generic error schema."""
        request = _request("https://errors.invalid", "/__error__", replace(exchange, method="GET", query_string=""))
        return [
            m
            for e in self.error_specs[service].iter_response_errors(request, _response(exchange))
            for m in _mismatch(service, operation, "response", exchange.status, e)
        ]


def _error_spec(raw: dict[str, Any], schema: str, config: Config) -> OpenAPI:
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
    return OpenAPI.from_dict(
        {
            "openapi": "3.0.1",
            "info": {"title": f"{schema} of {raw['info']['title']}", "version": "1"},
            "servers": [{"url": "https://errors.invalid"}],
            "components": raw["components"],
            "paths": {"/__error__": {"get": {"responses": {"default": {"description": "error", "content": content}}}}},
        },
        config=config,
    )


def _fits(template: str, path: str) -> bool:
    parts, wanted = template.strip("/").split("/"), path.strip("/").split("/")
    return len(parts) == len(wanted) and all(p.startswith("{") or p == w for p, w in zip(parts, wanted, strict=True))


def _request(server: str, path: str, exchange: Exchange) -> WerkzeugOpenAPIRequest:
    headers = {k: v for k, v in exchange.request_headers.items() if k not in ("host", "content-length")}
    builder = EnvironBuilder(
        method=exchange.method,
        base_url=server,
        path=path,
        query_string=exchange.query_string,
        headers=headers,
        data=exchange.request_body or None,
    )
    return WerkzeugOpenAPIRequest(Request(builder.get_environ()))


def _response(exchange: Exchange) -> WerkzeugOpenAPIResponse:
    headers = {k: v for k, v in exchange.response_headers.items() if k != "content-length"}
    return WerkzeugOpenAPIResponse(Response(exchange.response_body, status=exchange.status, headers=headers))


def _mismatch(service: str, operation: str, side: str, status: int, error: Exception) -> list[Mismatch]:
    """One line per schema error under `error` (openapi-core wraps jsonschema's in causes)."""
    details = list(_schema_errors(error))
    if not details:
        return [Mismatch(service, operation, side, status, "", _describe(error))]
    return [
        Mismatch(service, operation, side, status, "/".join(str(p) for p in e.absolute_path), e.message)
        for e in details
    ]


def _schema_errors(error: BaseException | None) -> Iterator[object]:
    seen = 0
    while error is not None and seen < 5:
        found = getattr(error, "schema_errors", None)
        if found:
            for e in found:
                yield from _leaves(e)
            return
        error, seen = error.__cause__ or error.__context__, seen + 1


def _leaves(error: object) -> Iterator[object]:
    """jsonschema's deepest errors (oneOf/anyOf bury the useful one in `context`)."""
    context = getattr(error, "context", None)
    if context:
        best = max(context, key=lambda e: len(e.absolute_path))
        yield best
    else:
        yield error


def _describe(error: BaseException) -> str:
    cause = error.__cause__
    text = f"{type(error).__name__}: {error}"
    if cause is not None and str(cause) and str(cause) not in text:
        text += f" ({type(cause).__name__}: {cause})"
    return text.replace("\n", " ")[:300]
