"""The deviations from the vendors' specs that the fidelity suite accepts, each with why and a source.

An entry matches a `Mismatch` by service, operation, JSON path and message (regular expressions,
`fullmatch`). Everything else is a failure, and so is an entry that matches nothing (a stale
entry hides the next real mismatch). Add an entry only for a spec mistake seen in real answers
or in the SDK's own model, never to make an emulator bug pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.fidelity.specs import Mismatch

_NULL = r"None (for not nullable|is not of type 'string')"


@dataclass(frozen=True)
class Allowed:
    """One accepted deviation."""

    name: str
    service: str
    operation: str  # regex on "METHOD /path" (HubSpot deal paths written with 0-3)
    where: str  # regex on the JSON path ("" is the whole body or request)
    what: str  # regex on the validator's message
    reason: str
    source: str

    def matches(self, mismatch: Mismatch) -> bool:
        """Whether this entry accepts `mismatch`."""
        return (
            mismatch.service == self.service
            and re.fullmatch(self.operation, mismatch.operation) is not None
            and re.fullmatch(self.where, mismatch.where) is not None
            and re.fullmatch(self.what, mismatch.what) is not None
        )


ALLOWED = (
    # --- HubSpot ------------------------------------------------------------------------------
    Allowed(
        "null-property-values",
        "hubspot",
        r"POST /crm/v3/objects/0-3/(search|batch/read)|GET /crm/v3/objects/0-3(/\{dealId\})?",
        r"results/\d+/properties/[^/]+|properties/[^/]+",
        _NULL,
        "A property that is requested but has no value comes back as null; the spec types the map's "
        "values as non-null strings. crmsync treats null as absent.",
        "tracker issue 14 (real responses); hubspot-api-client's own model SimplePublicObject.properties "
        "(dict(str, str), deserialised without a per-value check)",
    ),
    Allowed(
        "association-label-null",
        "hubspot",
        r"POST /crm/v4/associations/\{fromObjectType\}/\{toObjectType\}/batch/read"
        r"|GET /crm/v4/associations/\{fromObjectType\}/\{toObjectType\}/labels",
        r"results/\d+(/to/\d+/associationTypes/\d+)?/label",
        _NULL,
        "Unlabelled association types (typeId 341, 342) have `label: null`; the spec says string.",
        'reference/hubspot.md §v4 associations (response quoted with "label": null); hubspot-api-client '
        "AssociationSpecWithLabel.label setter accepts None",
    ),
    Allowed(
        "stage-write-permissions",
        "hubspot",
        r"GET /crm/v3/pipelines/\{objectType\}",
        r"results/\d+/stages/\d+/writePermissions",
        r"'CRUD_ALLOWED' is not one of .*",
        "Ordinary stages answer writePermissions CRUD_ALLOWED, a value missing from the spec's enum. "
        "crmsync never reads pipelines; only the emulator serves them.",
        "tracker issue 14 (real responses)",
    ),
    Allowed(
        "rate-limit-body",
        "hubspot",
        r"POST /crm/v3/objects/0-3/search",
        "",
        r"'category' is a required property",
        "HubSpot's 429 body has errorType RATE_LIMIT, policyName and groupName and no `category`, which "
        "the spec's Error requires.",
        "https://github.com/HubSpot/hubspot-api-python/issues/117 (429 body quoted); reference/hubspot.md §errors",
    ),
    Allowed(
        "search-after-omitted",
        "hubspot",
        r"POST /crm/v3/objects/0-3/search",
        "",
        r"'after' is a required property",
        "The first page of a search (and the first page of each id window) sends no `after`; the spec "
        "marks it required but the API pages from the start without it.",
        "hubspot-api-client's own model PublicObjectSearchRequest (after defaults to None and is omitted); "
        "HubSpot CRM search guide examples send no after",
    ),
    Allowed(
        "search-sorts-objects",
        "hubspot",
        r"POST /crm/v3/objects/0-3/search",
        r"sorts/\d+",
        r"\{'propertyName': .*\} is not of type 'string'",
        "crmsync sorts with {propertyName, direction} objects, the form HubSpot's search guide documents; "
        "the spec (and the SDK's type hint) say list of strings.",
        "HubSpot CRM search guide (sorts as objects); https://github.com/HubSpot/hubspot-api-python/issues/236",
    ),
    # --- Schematic ----------------------------------------------------------------------------
    Allowed(
        "nullable-enum-periods",
        "schematic",
        r"(GET|POST) /company-overrides|(GET|PUT) /company-overrides/\{company_override_id\}|GET /plan-entitlements",
        r"(data/(\d+/)?)?metric_period(_month_reset)?",
        r"None (for not nullable|is not of type 'string'|is not one of \[.*\])",
        "The spec writes `nullable: true` beside an allOf $ref to the enum, which OpenAPI 3.0.3 reads as "
        "not admitting null; it means nullable. crmsync sends null to clear a period on PUT.",
        "Schematic PY-SDK 1.4.6 types/company_override_response_data.py and the request's "
        "metric_period: typing.Optional[...] (explicit None is sent as null; reference/schematic-api.md §2.3)",
    ),
    Allowed(
        "lookup-keys-deep-object",
        "schematic",
        r"GET /companies/lookup",
        "",
        r"MissingRequiredParameter: Missing required query parameter: keys",
        "The spec names the object parameter `keys` with no style; the SDKs generated from it send "
        "keys[name]=value, the one form the emulator accepts, which openapi-core does not read as `keys`.",
        "Schematic PY-SDK 1.4.6 core/query_encoder.py (reference/schematic-api.md §4)",
    ),
    Allowed(
        "rate-limit-status-undocumented",
        "schematic",
        r"GET /company-overrides",
        "",
        r"status 429 is not documented for this operation",
        "The spec lists 400/401/403/404/500 only; the API also answers 429 (rate limit, body "
        "{bucket, error} and Retry-After). Its body is still checked against ApiError.",
        "https://docs.schematichq.com/api-reference/rate_limiting (reference/schematic-api.md §8)",
    ),
)


def allowed_by(mismatch: Mismatch) -> Allowed | None:
    """The entry accepting `mismatch`, or None."""
    return next((entry for entry in ALLOWED if entry.matches(mismatch)), None)
