"""Plan entitlements for a plan: fetch each plan version's entitlements once, then judge and compare.

Called by `planning.build_plans` after the diff. Only the plan versions of companies with a change are
fetched (one paged call per version, not per company); `read_plans` is shared with the effective
entitlement (service/effective.py). Warnings are advisory: if Schematic cannot tell us the
entitlements, the plan says so and goes on. A company on no plan, or on a plan without version,
gets a line saying why its overrides were not compared.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from crmsync.domain import Action, Change, Company, CompanyId
from crmsync.errors import ServiceError
from crmsync.reconcile.effective import CompanyPlans
from crmsync.reconcile.entitlements import PlanEntitlements, entitlement_warnings, unjudged, with_add_ons
from crmsync.reconcile.notices import PlanWarning, WarningKind
from crmsync.schematic.client import SchematicClient


def read_plans(
    schematic: SchematicClient, companies: Collection[Company], fetched: dict[str, PlanEntitlements] | None = None
) -> tuple[dict[CompanyId, CompanyPlans], tuple[str, ...]]:
    """Each company's base plan and add-ons as they grant (each version read once; `fetched`: versions
    already read, added to), and one line per version Schematic would not give (judged without it)."""
    wanted = sorted({v for c in companies for v in ((c.plan_version_id,) if c.plan_version_id else ())
                     + c.add_on_version_ids})  # fmt: skip
    fetched = {} if fetched is None else fetched
    unread: list[str] = []
    for version in (v for v in wanted if v not in fetched):
        try:
            fetched[version] = schematic.plan_entitlements(version)
        except ServiceError as exc:
            unread.append(f"could not read the entitlements of plan version {version} ({exc}); not checked")
    plans = {
        c.id: CompanyPlans(
            fetched.get(c.plan_version_id or ""),
            tuple(fetched[v] for v in c.add_on_version_ids if v in fetched),
            # on a plan without version, or a version Schematic would not give: the plan is not known
            known=(c.plan_name is None or c.plan_version_id in fetched)
            and all(v in fetched for v in c.add_on_version_ids),
        )
        for c in companies
    }
    return plans, tuple(unread)


def plan_warnings(
    changes: Iterable[Change],
    companies: Iterable[Company],
    names: Mapping[str, str],
    plans: Mapping[CompanyId, CompanyPlans],
    unread: Iterable[str] = (),
) -> tuple[PlanWarning, ...]:
    """Warnings for the creates and updates that the companies' plans (base plus add-ons) make
    pointless, and a line for each company that has no plan version to compare with."""
    writes = [c for c in changes if c.action is not Action.DELETE]
    companies = list(companies)
    keys: dict[CompanyId, str | None] = {}
    joined: dict[str, PlanEntitlements] = {}
    for company in companies:
        held = plans.get(company.id)
        plan = with_add_ons(held.base, held.add_ons) if held is not None else None
        if plan is not None:
            keys[company.id] = plan.plan_version_id
            joined[plan.plan_version_id] = plan
    return (
        *(PlanWarning(WarningKind.ENTITLEMENT, w) for w in entitlement_warnings(writes, keys, joined, names)),
        *(PlanWarning(WarningKind.ENTITLEMENTS_UNJUDGED, w) for w in unjudged(writes, companies, names)),
        *(PlanWarning(WarningKind.ENTITLEMENTS_UNREAD, w) for w in unread),
    )
