"""The effective entitlement: what a company can actually use of a feature, and which grant gives it. Pure.

Schematic grants the most generous of the company's plan, its add-ons and an override (reference
§3.3), except that a boolean override always wins, `false` included; an override past its expiry
no longer applies. `effective(...)` judges one company and feature from those grants; the service
(service/effective.py) reads the grants, `plan` compares the effective value before and after
each change, and `explain` and the console show it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from crmsync.domain import Action, Change, CompanyId, FeatureId, OverrideValue, ValueType
from crmsync.reconcile.entitlements import LIMITS, PlanEntitlements, describe, is_more_generous
from crmsync.reconcile.plan import value_json


class GrantKind(StrEnum):
    """Where a grant comes from."""

    PLAN = "plan"
    ADD_ON = "add_on"
    OVERRIDE = "override"


@dataclass(frozen=True)
class Grant:
    """One thing that gives a company a feature: its plan, an add-on, or an override."""

    kind: GrantKind
    name: str  # the plan's or add-on's name, or the override's id ("" for one not yet created)
    value: OverrideValue

    def label(self) -> str:
        """`plan Pro`, `add-on Seats pack`, `override cmov_1` (`override` for one not yet created)."""
        word = {GrantKind.PLAN: "plan", GrantKind.ADD_ON: "add-on", GrantKind.OVERRIDE: "override"}[self.kind]
        return f"{word} {self.name}" if self.name else word

    def to_json(self) -> dict[str, Any]:
        """The grant for JSON: kind, name, and the value in Schematic's field names."""
        return {"kind": self.kind.value, "name": self.name, **value_json(self.value)}


@dataclass(frozen=True)
class Effective:
    """What one company can use of one feature, from which grants, and until when.

    `value` is None when nothing grants the feature; `granted_by` lists every grant that gives
    exactly that value (a tie names each); `expires` is when the winning override stops applying,
    and `after_expiry` what the company keeps then (the plan and add-ons alone)."""

    company_id: CompanyId
    feature_id: FeatureId
    plan: Grant | None
    add_ons: tuple[Grant, ...]
    override: Grant | None
    value: OverrideValue | None
    granted_by: tuple[Grant, ...]
    expires: datetime | None = None
    after_expiry: OverrideValue | None = None
    expired_override: bool = False  # the override's expiry has passed: it no longer counts
    plans_known: bool = True  # False: a plan or add-on of the company could not be read; it may grant more

    def same_use(self, other: Effective) -> bool:
        """Whether the customer can use the same under both (expiry aside: it changes nothing today)."""
        return _same(self.value, other.value)

    def describe(self) -> str:
        """`50 from override cmov_1 until 2027-01-31 00:00Z, then 20`, or `nothing`."""
        if self.value is None:
            return "nothing" if self.plans_known else "nothing known (the company's plan could not be read)"
        who = " and ".join(g.label() for g in self.granted_by)
        text = f"{describe(self.value)} from {who}"
        if self.expires is not None:
            then = describe(self.after_expiry) if self.after_expiry is not None else "nothing"
            text += f" until {self.expires.strftime('%Y-%m-%d %H:%M')}Z, then {then}"
        return text if self.plans_known else f"{text} (the company's plan could not be read: it may grant more)"

    def to_json(self) -> dict[str, Any]:
        """The effective entitlement as JSON: each grant, the value, what grants it, the expiry."""
        return {
            "value": value_json(self.value) if self.value is not None else None,
            "described": describe(self.value) if self.value is not None else None,
            "granted_by": [g.kind.value for g in self.granted_by],
            "granted_by_names": [g.name for g in self.granted_by],
            "plan": self.plan.to_json() if self.plan else None,
            "add_ons": [g.to_json() for g in self.add_ons],
            "override": self.override.to_json() if self.override else None,
            "override_expired": self.expired_override,
            "plans_known": self.plans_known,
            "expires": self.expires.isoformat() if self.expires else None,
            "after_expiry": value_json(self.after_expiry) if self.after_expiry is not None else None,
        }


@dataclass(frozen=True)
class CompanyPlans:
    """What a company's plan and add-ons grant (as read once per plan version)."""

    base: PlanEntitlements | None = None
    add_ons: tuple[PlanEntitlements, ...] = ()
    known: bool = True  # False: a plan or add-on could not be read (or has no version): it may grant more

    def features(self) -> set[FeatureId]:
        """Every feature the plan or an add-on says something about."""
        return {f for p in (self.base, *self.add_ons) if p is not None for f in p.values}


def effective(
    company_id: CompanyId,
    feature_id: FeatureId,
    plans: CompanyPlans,
    override: OverrideValue | None,
    now: datetime,
    *,
    override_name: str = "",
) -> Effective:
    """What the company can use of the feature, given its plans and (at most) one override."""
    plan = _grant(GrantKind.PLAN, plans.base, feature_id)
    add_ons = tuple(g for p in plans.add_ons if (g := _grant(GrantKind.ADD_ON, p, feature_id)) is not None)
    own = Grant(GrantKind.OVERRIDE, override_name, override) if override is not None else None
    expired = own is not None and own.value.expiration is not None and own.value.expiration <= now
    standing = [g for g in (plan, *add_ons) if g is not None]
    base_value, base_by = _most_generous(standing)
    if own is None or expired:
        return Effective(
            company_id, feature_id, plan, add_ons, own, base_value, base_by, expired_override=expired,
            plans_known=plans.known,
        )  # fmt: skip
    value, by = _most_generous([*standing, own])
    expires = own.value.expiration if own in by and not _same(base_value, value) else None
    return Effective(
        company_id, feature_id, plan, add_ons, own, value, by, expires, base_value if expires else None, False,
        plans.known,
    )  # fmt: skip


def effects_of(
    company_id: CompanyId,
    plans: CompanyPlans,
    overrides: Mapping[FeatureId, tuple[str, OverrideValue]],
    now: datetime,
) -> tuple[Effective, ...]:
    """The effective entitlement of every feature a plan, add-on or override of the company names,
    by feature id; `overrides`: feature → (override id, value)."""
    features = sorted(plans.features() | set(overrides))
    named = {f: overrides.get(f, ("", None)) for f in features}
    return tuple(
        effective(company_id, f, plans, value, now, override_name=ident) for f, (ident, value) in named.items()
    )


def _grant(kind: GrantKind, plan: PlanEntitlements | None, feature: FeatureId) -> Grant | None:
    value = plan.values.get(feature) if plan is not None else None
    return Grant(kind, plan.plan_name, value) if plan is not None and value is not None else None


def _most_generous(grants: Sequence[Grant]) -> tuple[OverrideValue | None, tuple[Grant, ...]]:
    """The value the grants give together, and every grant giving exactly it.

    A boolean override wins outright (even `false`); among booleans `on` beats `off`; among limits
    the most generous (`is_more_generous`); a trait-valued override wins (nothing compares with it)."""
    if not grants:
        return None, ()
    override = next((g for g in grants if g.kind is GrantKind.OVERRIDE), None)
    if override is not None and override.value.value_type in (ValueType.BOOLEAN, ValueType.TRAIT):
        return _usable(override.value), (override,)
    best = grants[0]
    for grant in grants[1:]:
        if _beats(grant.value, best.value):
            best = grant
    winning = _usable(best.value)
    return winning, tuple(g for g in grants if _same(_usable(g.value), winning))


def _beats(a: OverrideValue, b: OverrideValue) -> bool:
    """Whether `a` grants strictly more than `b` (a limit beats a switch that is off, loses to one on)."""
    if a.value_type in LIMITS and b.value_type in LIMITS:
        return is_more_generous(a, b)
    if a.value_type is ValueType.BOOLEAN and b.value_type is ValueType.BOOLEAN:
        return bool(a.value_bool) and not b.value_bool
    if b.value_type is ValueType.BOOLEAN:
        return not b.value_bool
    return False


def _usable(value: OverrideValue | None) -> OverrideValue | None:
    """The value without its expiry: what the customer can use now."""
    return replace(value, expiration=None) if value is not None and value.expiration is not None else value


def _same(a: OverrideValue | None, b: OverrideValue | None) -> bool:
    if a is None or b is None:
        return a is b
    if a.value_type in LIMITS and b.value_type in LIMITS:
        return not is_more_generous(a, b) and not is_more_generous(b, a)
    return _usable(a) == _usable(b)


@dataclass(frozen=True)
class ChangeEffect:
    """What the customer can use before and after one planned change."""

    before: Effective
    after: Effective

    @property
    def changes_use(self) -> bool:
        """False when the change does not change what the customer can use (e.g. an override less
        generous than the plan)."""
        return not self.before.same_use(self.after)

    def to_json(self) -> dict[str, Any]:
        """`effective_before` / `effective_after` and whether use changes, for a change's JSON."""
        return {
            "effective_before": self.before.to_json(),
            "effective_after": self.after.to_json(),
            "changes_effective": self.changes_use,
        }


EffectKey = tuple[str, CompanyId, FeatureId]  # (action, company, feature): one change of a plan


def change_effects(
    changes: Sequence[Change], plans: Mapping[CompanyId, CompanyPlans], now: datetime
) -> dict[EffectKey, ChangeEffect]:
    """The effective entitlement before and after each change (keyed by action, company, feature)."""
    effects: dict[EffectKey, ChangeEffect] = {}
    for change in changes:
        held = plans.get(change.company_id, NO_PLANS)
        before = change.before
        after = change.after
        old = effective(change.company_id, change.feature_id, held, before.value if before else None, now,
                        override_name=before.id if before else "")  # fmt: skip
        new_value = after.value if after is not None and change.action is not Action.DELETE else None
        new = effective(change.company_id, change.feature_id, held, new_value, now,
                        override_name=before.id if before and change.action is Action.UPDATE else "")  # fmt: skip
        effects[(change.action.value, change.company_id, change.feature_id)] = ChangeEffect(old, new)
    return effects


NO_PLANS = CompanyPlans()
