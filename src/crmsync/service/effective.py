"""What each company can actually use of each feature: plan, add-ons and override side by side.

`effective_entitlements(schematic, company_ids, now)` reads the companies, their live overrides
and their plan versions' entitlements (each version once) and judges every feature with the pure
rule (reconcile/effective.py). Called by `explain` and by the console's company page; reads only.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crmsync.domain import Company, CompanyId, FeatureId, LiveOverride, OverrideValue
from crmsync.reconcile.effective import CompanyPlans, Effective, effects_of
from crmsync.schematic.client import SchematicClient
from crmsync.service.entitlements import read_plans


@dataclass(frozen=True)
class CompanyEntitlements:
    """One company's effective entitlements, one per feature its plan, add-ons or overrides name.

    `unread`: plan versions Schematic would not give (the company is judged without them)."""

    company: Company
    features: tuple[Effective, ...]
    unread: tuple[str, ...] = ()

    def feature(self, feature_id: FeatureId) -> Effective | None:
        """The effective entitlement of one feature, or None when nothing names it."""
        return next((e for e in self.features if e.feature_id == feature_id), None)

    def to_json(self) -> dict[str, Any]:
        """The company's effective entitlements as JSON, by feature."""
        return {
            "company_id": self.company.id,
            "company": self.company.name,
            "features": [{"feature_id": e.feature_id, **e.to_json()} for e in self.features],
            "unread": list(self.unread),
        }


def effective_entitlements(
    schematic: SchematicClient, company_ids: Collection[CompanyId], now: datetime
) -> tuple[CompanyEntitlements, ...]:
    """Per company (in `company_ids`' order, unknown ids left out) and feature: the plan's value, the
    add-ons' values, the override's, the effective value the customer can use, which grants give it,
    and when a winning override expires. Reads Schematic; writes nothing."""
    ids = list(dict.fromkeys(company_ids))
    companies = {c.id: c for c in schematic.list_companies(ids)} if ids else {}
    live = schematic.list_overrides(ids) if ids else []
    plans, unread = read_plans(schematic, list(companies.values()))
    return tuple(judge_companies([companies[i] for i in ids if i in companies], plans, live, now, unread))


def judge_companies(
    companies: Sequence[Company],
    plans: Mapping[CompanyId, CompanyPlans],
    live: Collection[LiveOverride],
    now: datetime,
    unread: Sequence[str] = (),
) -> list[CompanyEntitlements]:
    """The effective entitlements of companies whose plans and live overrides are already read."""
    result = []
    for company in companies:
        held = plans.get(company.id, CompanyPlans())
        mine = sorted((o for o in live if o.company_id == company.id), key=lambda o: o.id)
        overrides: dict[FeatureId, tuple[str, OverrideValue]] = {}
        for override in mine:  # Schematic keeps one override per company and feature: the first id stands
            overrides.setdefault(override.feature_id, (override.id, override.value))
        versions = {p.plan_version_id for p in (held.base, *held.add_ons) if p is not None}
        wanted = {v for v in (company.plan_version_id, *company.add_on_version_ids) if v}
        missing = tuple(line for line in unread if any(v in line for v in wanted - versions))
        result.append(CompanyEntitlements(company, effects_of(company.id, held, overrides, now), missing))
    return result
