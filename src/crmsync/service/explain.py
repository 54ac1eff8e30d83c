"""`crmsync explain COMPANY`: why one company's overrides are what they are, or are about to be.

Resolves the company (a Schematic id or a `key=value`), builds a plan scoped to it with the
real service, and regroups what that plan was computed from per feature: the deals and rules
behind each desired override, the counted deals that gave nothing (and why), the live
overrides with their ownership, and the planned changes. Reads only; the CLI renders it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crmsync.domain import (
    Change,
    Company,
    CompanyId,
    CompanyKey,
    Conflict,
    Contribution,
    DealProblem,
    DealRef,
    DesiredOverride,
    FeatureId,
    LiveOverride,
    Source,
)
from crmsync.errors import CrmsyncError
from crmsync.mapping.rules import Mappings
from crmsync.mapping.translate import Skip
from crmsync.reconcile.combine import combine
from crmsync.reconcile.effective import ChangeEffect, Effective, EffectKey
from crmsync.reconcile.notices import PlanWarning
from crmsync.reconcile.plan import desired_json, live_json, value_json
from crmsync.schematic.client import SchematicClient
from crmsync.service.context import Context, PlanRun
from crmsync.service.effective import CompanyEntitlements, judge_companies
from crmsync.service.entitlements import read_plans
from crmsync.service.planning import build_plan


@dataclass(frozen=True)
class FeatureStory:
    """Everything about one feature of the company: wanted, live, and about to change."""

    feature_id: FeatureId
    desired: DesiredOverride | None
    contributions: tuple[Contribution, ...]  # one per deal and rule that gave a value
    live: tuple[tuple[LiveOverride, bool], ...]  # each live override, and whether crmsync owns it
    changes: tuple[Change, ...]
    conflicts: tuple[Conflict, ...]


@dataclass(frozen=True)
class Explanation:
    """One company's overrides traced to deals and rules, with the plan for it."""

    company: Company
    features: tuple[FeatureStory, ...]
    skipped: tuple[tuple[DealRef, Skip], ...]  # counted deals that gave a rule nothing
    problems: tuple[DealProblem, ...]
    warnings: tuple[PlanWarning, ...]
    names: Mapping[str, str]
    change_effects: Mapping[EffectKey, ChangeEffect] = field(default_factory=dict)  # per planned change
    entitlements: CompanyEntitlements | None = None  # what the company can use of each feature, now

    def effective(self, feature_id: FeatureId) -> Effective | None:
        """What the company can use of a feature now (plan, add-ons, override), when known."""
        return self.entitlements.feature(feature_id) if self.entitlements is not None else None

    def name(self, ident: str) -> str:
        """A feature's or company's display name (the id when unknown)."""
        return self.names.get(ident, ident)

    def to_json(self) -> dict[str, Any]:
        """The explanation as one JSON-ready object (`crmsync explain --json`)."""
        c = self.company
        return {
            "company": {"id": c.id, "name": c.name, "keys": dict(c.keys), "plan_version_id": c.plan_version_id},
            "features": [self._feature_json(s) for s in self.features],
            "skipped": [
                {"deal": deal_json(d), "rule": str(s.rule), "feature": s.rule.feature, "reason": s.reason}
                for d, s in self.skipped
            ],
            "errors": [
                {"source": p.source.value, "deal_id": p.deal_id, "message": p.message, "rule": _rule(p)}
                for p in self.problems
            ],
            "warnings": [w.to_json() for w in self.warnings],
            "effective": self.entitlements.to_json()["features"] if self.entitlements is not None else [],
            "effective_unread": list(self.entitlements.unread) if self.entitlements is not None else [],
        }

    def plan_effects(self, change: Change) -> dict[str, Any]:
        """The change's effective entitlement before and after, in the plan's JSON form."""
        effect = self.change_effects.get((change.action.value, change.company_id, change.feature_id))
        if effect is None:
            return {"effective_before": None, "effective_after": None, "changes_effective": None}
        return effect.to_json()

    def _feature_json(self, story: FeatureStory) -> dict[str, Any]:
        return {
            "feature_id": story.feature_id,
            "feature": self.name(story.feature_id),
            "desired": desired_json(story.desired) if story.desired else None,
            "deals": [
                {"deal": deal_json(c.deal), "rule": str(c.rule), "combine": c.combine.value, **value_json(c.value)}
                for c in story.contributions
            ],
            "live": [{**live_json(o), "owned_by_crmsync": owned} for o, owned in story.live],
            "changes": [
                {"action": ch.action.value, "reason": ch.reason, "after": _value(ch.after), **self.plan_effects(ch)}
                for ch in story.changes
            ],
            "effective": effect.to_json() if (effect := self.effective(story.feature_id)) is not None else None,
            "conflicts": [{"live_id": cf.live.id, "desired": value_json(cf.desired.value)} for cf in story.conflicts],
        }


def _rule(problem: DealProblem) -> str | None:
    return str(problem.rule) if problem.rule else None


def _value(want: DesiredOverride | None) -> dict[str, Any] | None:
    return value_json(want.value) if want else None


def deal_json(deal: DealRef) -> dict[str, Any]:
    """The facts about a deal that explain shows: CRM, id, name, stage, close date."""
    return {
        "source": deal.source.value,
        "id": deal.id,
        "name": deal.name,
        "stage": deal.stage,
        "close_date": deal.close_date.strftime("%Y-%m-%d") if deal.close_date else None,
    }


def company_id_of(schematic: SchematicClient, text: str) -> CompanyId:
    """The company a `COMPANY` argument names: a Schematic id (`comp_…`) as given, or the company a key
    (`hubspot_company_id=5001`) names, looked up (CrmsyncError when none carries it)."""
    key, sep, value = text.partition("=")
    if not sep:
        return CompanyId(text.strip())
    found = schematic.lookup_company({key.strip(): value.strip()})
    if found is None:
        raise CrmsyncError(f"no Schematic company has the key {key.strip()}={value.strip()}; deals for it stay "
                           "pending until one does")  # fmt: skip
    return found.id


def plan_for_company(ctx: Context, mappings: Mappings, text: str) -> tuple[PlanRun, Company]:
    """A plan scoped to the company `text` names (see `company_id_of`), and that company as the plan
    read it; CrmsyncError (exit 1) when no Schematic company has that id."""
    company_id = company_id_of(ctx.schematic, text)
    run = build_plan(ctx, mappings, scope={company_id})
    company = next((c for c in run.companies if c.id == company_id), None)
    if company is None:
        raise CrmsyncError(f"no Schematic company {text.strip()!r}; give its id (comp_…) or a key, e.g. "
                           "hubspot_company_id=5001")  # fmt: skip
    return run, company


def explain(ctx: Context, mappings: Mappings, company_text: str) -> Explanation:
    """Build a plan scoped to one company and trace it back to deals and rules."""
    run, company = plan_for_company(ctx, mappings, company_text)
    plans, unread = read_plans(ctx.schematic, [company])
    (entitlements,) = judge_companies([company], plans, run.live, ctx.clock(), unread)
    return trace(run, mappings, company, entitlements)


def trace(
    run: PlanRun, mappings: Mappings, company: Company, entitlements: CompanyEntitlements | None = None
) -> Explanation:
    """Regroup a scoped plan run by feature for one company (pure)."""
    keys = {CompanyKey(k, v) for k, v in company.keys.items()}
    deals = run.translation.deals  # the counted deals that gave a rule nothing or an error
    files = {f.path: f for f in mappings.files}

    def ours(source: Source, deal: DealRef | None) -> bool:
        """Whether a deal's company (by any mapping file of its CRM) is this company."""
        return deal is not None and any(CompanyKey(f.company_key, deal.company_ref or "") in keys
                                        for f in mappings.for_source(source))  # fmt: skip

    contributions = [c for c in run.translation.contributions if c.company in keys]
    desired, _ = combine(contributions, dict.fromkeys(keys, company.id))
    owned = run.owned_ids
    live = [o for o in run.live if o.company_id == company.id]
    changes = [c for c in run.plan.changes if c.company_id == company.id]
    conflicts = [c for c in run.plan.conflicts if c.company_id == company.id]
    features = sorted({c.feature_id for c in contributions} | {o.feature_id for o in live}
                      | {c.feature_id for c in changes} | {c.feature_id for c in conflicts})  # fmt: skip
    stories = tuple(
        FeatureStory(
            feature_id=f,
            desired=desired.get((company.id, f)),
            contributions=tuple(c for c in contributions if c.feature_id == f),
            live=tuple((o, o.id in owned) for o in live if o.feature_id == f),
            changes=tuple(c for c in changes if c.feature_id == f),
            conflicts=tuple(c for c in conflicts if c.feature_id == f),
        )
        for f in features
    )
    skipped = tuple(
        (deal, s)
        for s in run.translation.skipped
        if (file := files.get(s.rule.path)) is not None
        and (deal := deals.get((file.source, s.deal_id))) is not None
        and CompanyKey(file.company_key, deal.company_ref or "") in keys
    )
    problems = tuple(p for p in run.translation.problems if ours(p.source, deals.get((p.source, p.deal_id))))
    effects = {k: e for k, e in run.plan.effects.items() if k[1] == company.id}
    return Explanation(company, stories, skipped, problems, run.plan.warnings, run.plan.names, effects, entitlements)
