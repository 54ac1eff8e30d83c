"""`crmsync release` and `crmsync adopt`: take overrides out of crmsync's management and back in.

A released override keeps its value and becomes an unowned override (a conflict where the deals
want one); its pair is not re-created while released. Release writes the ledger and appends one
note to the override (its value sent back unchanged) saying it was released, so a ledger rebuilt
after state loss keeps it released. Adopting writes only the ledger: it records unowned overrides
standing where a desired one should be (the plan's `adoptable`), and resumes released pairs whose
override is gone. Called by cli/release_adopt.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crmsync.domain import CompanyId, Feature, FeatureId, LedgerState, Trigger
from crmsync.errors import CrmsyncError
from crmsync.mapping.check import match_feature
from crmsync.mapping.rules import Mappings
from crmsync.reconcile.adopt import Adoption
from crmsync.reconcile.note import release_note
from crmsync.service.context import Context, PlanRun
from crmsync.service.explain import company_id_of, plan_for_company
from crmsync.service.ownership import adopt_into_ledger
from crmsync.service.planning import build_plan
from crmsync.store.repository import ChangeResult, Owned


@dataclass(frozen=True)
class Adopted:
    """What `crmsync adopt` recorded."""

    run: PlanRun
    adopted: tuple[Adoption, ...]
    resumed: tuple[Owned, ...]  # released pairs whose override is gone: managed (created) again


@dataclass(frozen=True)
class Released:
    """What `crmsync release` did: the rows released, and the overrides whose release note failed."""

    rows: tuple[Owned, ...]
    noted: int  # release notes written to Schematic
    unnoted: dict[str, str]  # override id → why its note could not be written (the ledger has it released)


def release(
    ctx: Context,
    override_ids: Sequence[str],
    company: str | None,
    feature: str | None,
    trigger: Trigger = Trigger.MANUAL,
) -> Released:
    """Mark ledger rows released (by override id, or by company and optional feature; all or nothing),
    recorded as a run of `ctx.actor` in the same transaction, then append the release note to each
    override. An id already released gets its note written again (how a failed note is retried)."""
    chosen = _to_release(ctx, override_ids, company, feature)
    with ctx.store.audited("release", trigger, ctx.actor) as log:
        ctx.store.release([o.override_id for o in chosen if o.override_id])
        log.changes = [ChangeResult("release", o.company_id, o.feature_id, o.override_id, True) for o in chosen]
        log.summary = {"released": len(chosen)}
    live = {o.id: o for o in ctx.schematic.list_overrides(sorted({o.company_id for o in chosen}))}
    noted, unnoted = 0, dict[str, str]()
    for row in chosen:
        override = live.get(row.override_id) if row.override_id else None
        if override is None:
            continue  # gone already: nothing to annotate
        try:  # the value it has now, sent back as it is: only the note is new
            ctx.schematic.update_override(override.id, override.value, release_note(row.token))
            noted += 1
        except CrmsyncError as exc:
            unnoted[override.id] = str(exc)
    return Released(tuple(chosen), noted, unnoted)


def _to_release(ctx: Context, override_ids: Sequence[str], company: str | None, feature: str | None) -> list[Owned]:
    active = [o for o in ctx.store.owned() if o.status == LedgerState.ACTIVE and o.override_id]
    if override_ids:
        by_id = {str(o.override_id): o for o in active}
        by_id |= {str(o.override_id): o for o in ctx.store.released() if o.override_id}
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
    return chosen


def adopt(
    ctx: Context, mappings: Mappings, company: str | None, feature: str | None, trigger: Trigger = Trigger.MANUAL
) -> Adopted:
    """Record the adoptable overrides (of one company and feature, when given) as crmsync's, and
    resume the released pairs whose override is gone, recorded as a run of `ctx.actor` in the same
    transaction. The next apply updates any that differ."""
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
    if not chosen and not resumed:
        return Adopted(run, chosen, resumed)
    with ctx.store.audited("adopt", trigger, ctx.actor) as log:
        for adoption in chosen:
            adopt_into_ledger(ctx.store, adoption)
        for row in resumed:
            if row.override_id:
                ctx.store.record_delete(row.override_id)  # the release ends: the pair is no longer held
        log.changes = [ChangeResult("adopt", *a.key, a.live.id, True) for a in chosen] + [
            ChangeResult("resume", r.company_id, r.feature_id, r.override_id, True) for r in resumed
        ]
        touched = {k for a in chosen for k in a.key} | {k for r in resumed for k in (r.company_id, r.feature_id)}
        names = {k: run.plan.name(k) for k in sorted(touched)}  # the run's page names what it touched
        log.summary = {"adopted": len(chosen), "resumed": len(resumed), "names": names}
    return Adopted(run, chosen, resumed)


def resolve_feature(features: Sequence[Feature], text: str) -> FeatureId:
    """A feature by id, flag key or exact name (as mapping files name them); CrmsyncError when
    none, or several, have that name."""
    feature, message, hint = match_feature(text.strip(), features)
    if feature is None:
        raise CrmsyncError(f"--feature: {message}; {hint}")
    return feature.id
