"""`crmsync doctor` for HubSpot: is the token accepted, may it read deals and their companies (its
scopes, inferred from a one-record read of each: HubSpot answers 403 for a missing scope), and how
much of the rate limit is left (X-HubSpot-RateLimit-* headers, when the server sends them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hubspot
import urllib3
from hubspot.crm.associations.v4 import ApiException as AssociationsApiException
from hubspot.crm.deals import ApiException as DealsApiException
from urllib3.util.retry import Retry

from crmsync.connectors.hubspot import HubSpotSettings
from crmsync.connectors.probe import Probe, headroom, int_header

SERVICE = "hubspot"
SCOPES = (  # what crmsync reads, the scope it needs, and a one-record read that needs it
    ("deals", "crm.objects.deals.read"),
    ("deal→company associations", "crm.objects.companies.read"),
)


def probe_hubspot(settings: HubSpotSettings) -> list[Probe]:
    """Reachability and token, then each scope, then the rate-limit headroom (no retries: one answer each)."""
    once = Retry(total=0, raise_on_status=False)
    client = hubspot.Client.create(access_token=settings.access_token, host=settings.base_url, retry=once)
    timeout = (settings.connect_timeout, min(settings.read_timeout, 10.0))
    deals_api, labels_api = client.crm.deals.basic_api, client.crm.associations.v4.schema.definitions_api
    reads: tuple[Callable[[], Any], ...] = (
        lambda: deals_api.get_page_with_http_info(limit=1, _request_timeout=timeout),
        lambda: labels_api.get_all_with_http_info("deals", "companies", _request_timeout=timeout),
    )
    probes: list[Probe] = []
    headers: Any = None
    for (what, scope), read in zip(SCOPES, reads, strict=True):
        try:
            _, _, answer = read()
            headers = headers or answer
        except (DealsApiException, AssociationsApiException) as exc:
            if exc.status == 401:
                return [Probe(SERVICE, "reachability", True, f"{settings.base_url} answers"),
                        Probe(SERVICE, "credentials", False, "HUBSPOT_ACCESS_TOKEN was rejected (401)")]  # fmt: skip
            if exc.status == 403:
                probes.append(Probe(SERVICE, "scopes", False, f"cannot read {what}: the token lacks {scope}"))
                continue
            return [Probe(SERVICE, "reachability", False, f"{settings.base_url} answered {exc.status} to a read")]
        except urllib3.exceptions.HTTPError as exc:
            what_failed = "timed out" if isinstance(exc, urllib3.exceptions.TimeoutError) else "unreachable"
            return [Probe(SERVICE, "reachability", False, f"{settings.base_url} {what_failed} ({type(exc).__name__}); "
                          "check HUBSPOT_API_URL")]  # fmt: skip
        probes.append(Probe(SERVICE, "scopes", True, f"may read {what} ({scope})"))
    head = [Probe(SERVICE, "reachability", True, f"{settings.base_url} answers"),
            Probe(SERVICE, "credentials", True, "HUBSPOT_ACCESS_TOKEN accepted")]  # fmt: skip
    remaining = int_header(headers, "X-HubSpot-RateLimit-Remaining")
    limit = int_header(headers, "X-HubSpot-RateLimit-Max")
    return head + probes + [headroom(remaining, limit, "requests per 10 s window", SERVICE)]
