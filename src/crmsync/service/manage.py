"""`crmsync release` and `crmsync adopt`: take overrides out of crmsync's management and back in.

Both write only the ledger, never Schematic. A released override is left as it is and becomes
an unowned override (a conflict where the deals want one); its pair is not re-created while
released. Adopting records unowned overrides standing where a desired one should be (the plan's
`adoptable`), and resumes released pairs whose override is gone. Called by cli/release_adopt.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crmsync.domain import CompanyId, Feature, FeatureId, LedgerState
from crmsync.errors import CrmsyncError
from crmsync.mapping.check import match_feature
from crmsync.mapping.rules import Mappings
from crmsync.reconcile.adopt import Adoption
from crmsync.service.context import Context, PlanRun
from crmsync.service.explain import company_id_of, plan_for_company
from crmsync.service.ownership import adopt_into_ledger
from crmsync.service.planning import build_plan
from crmsync.store.repository import Owned


@dataclass(frozen=True)
class Adopted:
    """What `crmsync adopt` recorded."""

    run: PlanRun
    adopted: tuple[Adoption, ...]
    resumed: tuple[Owned, ...]  # released pairs whose override is gone: managed (created) again


def release(ctx: Context, override_ids: Sequence[str], company: str | None, feature: str | None) -> list[Owned]:
    """Mark ledger rows released (by override id, or by company and optional feature); all or nothing."""
    active = [o for o in ctx.store.owned() if o.status == LedgerState.ACTIVE and o.override_id]
    if override_ids:
        by_id = {str(o.override_id): o for o in active}
        unknown = [i for i in override_ids if i not in by_id]
        if unknown:
            raise CrmsyncError(
                f"crmsync does not manage {', '.join(unknown)} (not in its ledger, or already released); "
                "nothing was released. crmsync owned lists the overrides it manages"
            )
        chosen = list({i: by_id[i] for i in override_ids}.values())
    else:
        if company is None:
            raise CrmsyncError("name the overrides to release: OVERRIDE_ID…, or --company (and --feature)")
        company_id = company_id_of(ctx.schematic, company)
        feature_id = resolve_feature(ctx.schematic.list_features(), feature) if feature else None
        chosen = [o for o in active if o.company_id == company_id and feature_id in (None, o.feature_id)]
        if not chosen:
            which = f"{company}" + (f" / {feature}" if feature else "")
            raise CrmsyncError(f"crmsync manages no override of {which}; nothing was released")
    ctx.store.release([o.override_id for o in chosen if o.override_id])
    return chosen


def adopt(ctx: Context, mappings: Mappings, company: str | None, feature: str | None) -> Adopted:
    """Record the adoptable overrides (of one company and feature, when given) as crmsync's, and
    resume the released pairs whose override is gone. The next apply updates any that differ."""
    if company:
        run, found = plan_for_company(ctx, mappings, company)
        company_id: CompanyId | None = found.id
    else:
        run, company_id = build_plan(ctx, mappings), None
    feature_id = resolve_feature(run.features, feature) if feature else None

    def wanted(c: CompanyId, f: FeatureId) -> bool:
        return company_id in (None, c) and feature_id in (None, f)

    chosen = tuple(a for a in run.plan.adoptions if wanted(*a.key))
    live = {o.id for o in run.live}
    resumed = tuple(r for r in run.released if wanted(r.company_id, r.feature_id) and r.override_id not in live)
    for adoption in chosen:
        adopt_into_ledger(ctx.store, adoption)
    for row in resumed:
        if row.override_id:
            ctx.store.record_delete(row.override_id)  # the release ends: the pair is no longer held
    return Adopted(run, chosen, resumed)


def resolve_feature(features: Sequence[Feature], text: str) -> FeatureId:
    """A feature by id, flag key or exact name (as mapping files name them); CrmsyncError when
    none, or several, have that name."""
    feature, message, hint = match_feature(text.strip(), features)
    if feature is None:
        raise CrmsyncError(f"--feature: {message}; {hint}")
    return feature.id
