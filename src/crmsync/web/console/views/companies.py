"""Companies: search by name, id or key; a company's page is `crmsync explain` as a page — each
feature's wanted value and how it was combined, each deal behind it linked to its CRM, the rule's
file:line, the live override and who owns it, the planned change, and the effective entitlement (plan,
add-ons and override side by side: what the customer can use, which grants it, until when).
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crmsync.domain import Change, DealRef, Source
from crmsync.errors import CrmsyncError
from crmsync.logs import get_logger
from crmsync.reconcile.effective import EffectKey
from crmsync.service.explain import Explanation, explain
from crmsync.web.console.pages import console_of, error_page, render

log = get_logger("crmsync.web.console")
HUBSPOT_DEAL = "https://app.hubspot.com/contacts/{portal}/record/0-3/{deal}"


async def companies(request: Request) -> Response:
    """Search known companies (as the last runs read them)."""
    q = request.query_params
    text = q.get("q", "").strip()[:128]
    page = await run_in_threadpool(lambda: console_of(request).data.companies(text=text, after=q.get("after", "")))
    return render(request, "companies.html", page=page, q=text)


async def company(request: Request) -> Response:
    """One company explained: read live from Schematic and the CRMs through the real service."""
    company_id = request.path_params["company_id"][:64]
    console = console_of(request)
    known = await run_in_threadpool(console.data.company, company_id)

    def explained() -> Explanation:
        with console.workspace() as (ctx, maps):
            return explain(ctx, maps, company_id)

    story: Explanation | None = None
    problem = ""
    try:
        story = await run_in_threadpool(explained)
    except CrmsyncError as exc:  # our own errors are written for people (and carry no secret)
        problem = str(exc)
        log.warning("console.explain_failed", company_id=company_id, error=type(exc).__name__, detail=str(exc))
    if story is None and known is None:
        return error_page(request, 404, "No such company", problem or f"No company {company_id} is known.")
    owned = await run_in_threadpool(lambda: console.data.ledger(company=company_id).rows)
    return render(request, "company.html", company_id=company_id, known=known, story=story, problem=problem,
                  owned=owned, deal_url=lambda d: deal_url(d, console.links),
                  effect_of=lambda ch: story.change_effects.get(effect_key(ch)) if story else None)  # fmt: skip


def deal_url(deal: DealRef, links: dict[str, str]) -> str:
    """The deal's page in its CRM: HubSpot's from the portal id, Salesforce's from the instance ('' unknown)."""
    if deal.source is Source.HUBSPOT and links.get("hubspot_portal"):
        return HUBSPOT_DEAL.format(portal=quote(links["hubspot_portal"]), deal=quote(str(deal.id)))
    if deal.source is Source.SALESFORCE and links.get("salesforce_instance"):
        return f"{links['salesforce_instance'].rstrip('/')}/lightning/r/Opportunity/{quote(str(deal.id))}/view"
    return ""


def effect_key(change: Change) -> EffectKey:
    """Where a change's effective entitlement before → after is kept (its action, company and feature)."""
    return (change.action.value, change.company_id, change.feature_id)
