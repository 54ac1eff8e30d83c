"""`crmsync doctor` for HubSpot: is the token accepted, may it read deals and their companies (its
scopes, inferred from a one-record read of each: HubSpot answers 403 for a missing scope), and how
much of the rate limit is left (the X-HubSpot-RateLimit-* headers of those reads' answers: the daily
budget, which fails the check when under 10% is left, and the 10 s window, a warning when low)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hubspot
import urllib3
from hubspot.crm.associations.v4 import ApiException as AssociationsApiException
from hubspot.crm.deals import ApiException as DealsApiException
from urllib3.util.retry import Retry

from crmsync.connectors.hubspot import HubSpotSettings
from crmsync.connectors.probe import Probe, int_header

SERVICE = "hubspot"
LOW = 0.1  # under this share of a limit left: the daily budget fails the check, the 10 s window warns
HEADER = "X-HubSpot-RateLimit-"
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
            _, _, headers = read()  # the raw answer's headers: the latest tell the most recent usage
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
    return head + probes + [rate_limit(headers)]


def rate_limit(headers: Any) -> Probe:
    """`249,873 of 250,000 daily calls left; 99 of 100 per 10 s`, from HubSpot's rate-limit headers
    (OAuth apps get no daily pair). A daily budget under 10% fails: once spent, every call is refused
    (429) until it resets. A 10 s window under 10% only warns: pacing and retries ride it out."""
    daily, daily_left = int_header(headers, HEADER + "Daily"), int_header(headers, HEADER + "Daily-Remaining")
    window, window_left = int_header(headers, HEADER + "Max"), int_header(headers, HEADER + "Remaining")
    seconds = (int_header(headers, HEADER + "Interval-Milliseconds") or 10_000) / 1000
    parts = []
    if daily and daily_left is not None:
        parts.append(f"{daily_left:,} of {daily:,} daily calls left")
    if window and window_left is not None:
        parts.append(f"{window_left:,} of {window:,} per {seconds:g} s")
    if not parts:
        return Probe(SERVICE, "rate limit", True, "not reported by the server (no X-HubSpot-RateLimit-* headers)")
    detail = "; ".join(parts)
    if daily and daily_left is not None and daily_left < daily * LOW:
        return Probe(SERVICE, "rate limit", False, f"{detail}: under {LOW:.0%} of the daily budget is left; once it "
                     "is spent HubSpot refuses every call (429) until it resets at midnight in the account's time "
                     "zone")  # fmt: skip
    warning = ""
    if window and window_left is not None and window_left < window * LOW:
        warning = (f"only {window_left:,} of {window:,} calls left in this {seconds:g} s window: other apps or "
                   "processes are using this account's limit; crmsync paces its calls and retries 429s")  # fmt: skip
    return Probe(SERVICE, "rate limit", True, detail, warning)
