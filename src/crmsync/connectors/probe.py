"""What `crmsync doctor` learns from one cheap call to an outside system: one line each, ok or not.
The probes live beside their connectors (hubspot_probe.py, salesforce_probe.py); they never write."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Probe:
    """One check's verdict: `hubspot reachability: ok (…)`."""

    service: str  # schematic | hubspot | salesforce
    check: str  # credentials | reachability | scopes | object access | rate limit
    ok: bool
    detail: str
    warning: str = ""  # passed, but worth a look (e.g. little left of a short rate-limit window)


def headroom(remaining: int | None, limit: int | None, what: str, service: str, *, low: float = 0.1) -> Probe:
    """A rate-limit line from a remaining/limit pair; not ok under `low` (10%) of the limit left."""
    if remaining is None or not limit:
        return Probe(service, "rate limit", True, f"{what}: not reported by the server")
    share = remaining / limit
    return Probe(service, "rate limit", share >= low, f"{what}: {remaining} of {limit} left ({share:.0%})")


def int_header(headers: Mapping[str, str] | None, name: str) -> int | None:
    """A whole-number header, case-insensitively (None when absent or not a number)."""
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            try:
                return int(str(value).strip())
            except ValueError:
                return None
    return None
