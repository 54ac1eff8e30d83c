"""Mapping files the tests write again and again, built once: a HubSpot mapping of closed-won deals
keyed by `hubspot_company_id` with one `seats` override, and the 30-day seats trial made of it.

Used by pure mapping tests (as literal text) and e2e tests (written into a mappings folder).
"""

from __future__ import annotations

HUBSPOT_HEAD = """source: hubspot
deals:
  stages: [closedwon]
company:
  key: hubspot_company_id
overrides:
"""


def hubspot_seats(*lines: str) -> str:
    """A HubSpot mapping file whose one override is the `seats` feature with these lines under it."""
    return HUBSPOT_HEAD + "  - feature: seats\n" + "".join(f"    {line}\n" for line in lines)


SEATS_TRIAL = hubspot_seats("type: numeric", "value: 10", "expires_after_days: 30")  # 10 seats for 30 days
