"""Plan-entitlement warnings for a plan: fetch each plan version's entitlements once, then judge.

Called by `sync.build_plan` after the diff. Only the plan versions of companies with a
create or update are fetched (one paged call per version, not per company). The warnings
are advisory: if Schematic cannot tell us the entitlements, the plan says so and goes on.
Add-on plans are not consulted yet: the base plan alone is compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from crmsync.domain import Action, Change, Company
from crmsync.errors import ServiceError
from crmsync.reconcile.entitlements import PlanEntitlements, entitlement_warnings
from crmsync.reconcile.notices import PlanWarning, WarningKind
from crmsync.schematic.client import SchematicClient


def plan_warnings(
    schematic: SchematicClient,
    changes: Iterable[Change],
    companies: Iterable[Company],
    names: Mapping[str, str],
) -> tuple[PlanWarning, ...]:
    """Warnings for the creates and updates that the companies' plan entitlements make pointless."""
    writes = [c for c in changes if c.action is not Action.DELETE]
    versions = {c.id: c.plan_version_id for c in companies}
    wanted = sorted({v for c in writes if (v := versions.get(c.company_id))})
    entitlements: dict[str, PlanEntitlements] = {}
    unread: list[str] = []
    for version in wanted:
        try:
            entitlements[version] = schematic.plan_entitlements(version)
        except ServiceError as exc:
            unread.append(f"could not read the entitlements of plan version {version} ({exc}); not checked")
    judged = entitlement_warnings(writes, versions, entitlements, names)
    return (
        *(PlanWarning(WarningKind.ENTITLEMENT, w) for w in judged),
        *(PlanWarning(WarningKind.ENTITLEMENTS_UNREAD, w) for w in unread),
    )
