"""Plan-entitlement warnings for a plan: fetch each plan version's entitlements once, then judge.

Called by `planning.build_plan` after the diff. Only the plan versions of companies with a
create or update are fetched (one paged call per version, not per company). The warnings
are advisory: if Schematic cannot tell us the entitlements, the plan says so and goes on.
A company's add-on plans count with its base plan (the most generous wins); a company on no
plan, or on a plan without version, gets a line saying why its overrides were not compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from crmsync.domain import Action, Change, Company, CompanyId
from crmsync.errors import ServiceError
from crmsync.reconcile.entitlements import PlanEntitlements, entitlement_warnings, unjudged, with_add_ons
from crmsync.reconcile.notices import PlanWarning, WarningKind
from crmsync.schematic.client import SchematicClient


def plan_warnings(
    schematic: SchematicClient,
    changes: Iterable[Change],
    companies: Iterable[Company],
    names: Mapping[str, str],
) -> tuple[PlanWarning, ...]:
    """Warnings for the creates and updates that the companies' plans (base plus add-ons) make
    pointless, and a line for each company that has no plan version to compare with."""
    writes = [c for c in changes if c.action is not Action.DELETE]
    companies = list(companies)
    writing = {c.company_id for c in writes}
    wanted = sorted({v for c in companies if c.id in writing
                     for v in ((c.plan_version_id,) if c.plan_version_id else ()) + c.add_on_version_ids})
    fetched: dict[str, PlanEntitlements] = {}
    unread: list[str] = []
    for version in wanted:
        try:
            fetched[version] = schematic.plan_entitlements(version)
        except ServiceError as exc:
            unread.append(f"could not read the entitlements of plan version {version} ({exc}); not checked")
    keys: dict[CompanyId, str | None] = {}
    joined: dict[str, PlanEntitlements] = {}
    for company in companies:
        base = fetched.get(company.plan_version_id or "")
        plan = with_add_ons(base, [fetched[v] for v in company.add_on_version_ids if v in fetched])
        if plan is not None:
            keys[company.id] = plan.plan_version_id
            joined[plan.plan_version_id] = plan
    return (
        *(PlanWarning(WarningKind.ENTITLEMENT, w) for w in entitlement_warnings(writes, keys, joined, names)),
        *(PlanWarning(WarningKind.ENTITLEMENTS_UNJUDGED, w) for w in unjudged(writes, companies, names)),
        *(PlanWarning(WarningKind.ENTITLEMENTS_UNREAD, w) for w in unread),
    )
