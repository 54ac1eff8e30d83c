"""`crmsync doctor` for Salesforce: does the login (or access token) work, may the user query the
objects crmsync reads (Opportunity, Account: each object's describe, and its `queryable` flag), and
how much of the daily API allocation is left (the `Sforce-Limit-Info` header simple-salesforce
parses after each call)."""

from __future__ import annotations

import requests
from simple_salesforce.exceptions import SalesforceError

from crmsync.connectors.probe import Probe, headroom
from crmsync.connectors.salesforce_auth import SalesforceSettings, make_session, open_client
from crmsync.errors import CrmsyncError

SERVICE = "salesforce"
OBJECTS = ("Opportunity", "Account")


def probe_salesforce(settings: SalesforceSettings) -> list[Probe]:
    """Login, each object's access, then the API allocation left."""
    session = make_session(settings)
    try:
        try:
            client = open_client(settings, session)
        except CrmsyncError as exc:
            return [Probe(SERVICE, "credentials", False, str(exc))]
        probes = [Probe(SERVICE, "credentials", True, f"{settings.flow()} accepted")]
        for name in OBJECTS:
            try:
                described = getattr(client, name).describe()
            except SalesforceError as exc:
                if exc.status == 401:
                    return [Probe(SERVICE, "credentials", False, "the session was rejected (401)")]
                probes.append(Probe(SERVICE, "object access", False, f"cannot query {name} ({exc.status})"))
                continue
            except requests.RequestException as exc:
                return [Probe(SERVICE, "reachability", False, f"unreachable ({type(exc).__name__}); check "
                              "SALESFORCE_INSTANCE_URL")]  # fmt: skip
            if not (isinstance(described, dict) and described.get("queryable")):
                probes.append(Probe(SERVICE, "object access", False, f"{name} is not queryable for this user"))
                continue
            probes.append(Probe(SERVICE, "object access", True, f"may query {name} (describe: queryable)"))
        usage = (client.api_usage or {}).get("api-usage")
        used, total = (getattr(usage, "used", None), getattr(usage, "total", None)) if usage else (None, None)
        remaining = total - used if used is not None and total is not None else None
        return [Probe(SERVICE, "reachability", True, "the instance answers"), *probes,
                headroom(remaining, total, "daily API requests", SERVICE)]  # fmt: skip
    finally:
        session.close()
