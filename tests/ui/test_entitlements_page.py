"""A company's page shows its effective entitlement: plan, add-ons and override side by side, what the
customer can actually use, which of them grants it and until when; each planned change with what
the customer can use before → after. Over the sample after a real apply, served by uvicorn."""

from __future__ import annotations

import re

import httpx

from tests.ui.conftest import World


def row(page: str, feature: str) -> list[str]:
    """The cells of the effective-entitlement table's row for `feature`, as plain text."""
    table = page[page.index('<table class="effective">') :]
    table = table[: table.index("</table>")]
    found = re.search(rf"<tr><th scope=\"row\">{feature}</th>(.*?)</tr>", table, re.S)
    assert found, table
    return [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in re.findall(r"<td>(.*?)</td>", found.group(1), re.S)]


def test_acme_can_use_the_overrides_seats_over_its_plans(viewer: httpx.Client) -> None:
    """Acme's Starter plan gives 20 seats; crmsync's override gives more, so the override grants what it uses."""
    page = viewer.get("/companies/comp_acme").text
    plan, add_ons, override, can_use, granted_by, expires = row(page, "Seats")
    assert plan == "20 (Starter)" and add_ons == "—"
    assert override.startswith("50") and can_use == "50" and granted_by == "override" and expires == "—"


def test_an_expiring_override_says_until_when_and_what_is_left_then(viewer: httpx.Client) -> None:
    """Acme's API-call override wins until 2027-12-31; then the Starter plan's 10000 a month is what is left."""
    plan, _, override, can_use, granted_by, expires = row(viewer.get("/companies/comp_acme").text, "API calls")
    assert plan == "10000 /current_month (Starter)" and override.startswith("500000 /current_month until 2027-12-31")
    assert can_use == "500000 /current_month" and granted_by == "override"
    assert expires == "2027-12-31 23:59Z, then 10000 /current_month"


def test_without_an_override_the_plan_grants_what_the_customer_uses(viewer: httpx.Client) -> None:
    """Globex has no SSO override: its Starter plan's `off` is what it can use, granted by the plan."""
    assert row(viewer.get("/companies/comp_globex").text, "SSO") == ["off (Starter)", "—", "—", "off", "plan", "—"]


def test_a_planned_change_says_what_the_customer_can_use_before_and_after(viewer: httpx.Client, world: World) -> None:
    """Initech's deal now says 80 seats: the planned update of its 250-seat override shows that Initech
    goes from 250 (override) to 100 — its Growth plan's, which is more generous than the new override."""
    world.sb.hubspot.update_deal("1006", seats_purchased="80")
    page = viewer.get("/companies/comp_initech").text
    found = re.findall(r'<span class="effect(?: same)?">(.*?)</span>', page, re.S)
    effects = [" ".join(re.sub(r"<[^>]+>", " ", e).split()) for e in found]
    assert len(effects) == 1 and re.fullmatch(r"can use: 250 from override cmov_\w+ → 100 from plan Growth", effects[0])
