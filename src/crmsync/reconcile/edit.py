"""What a mapping edit changes, apart from what would change anyway. Pure.

Given the plans of the base and the head mappings, computed from the same deals and live
overrides (service/planning.build_plans), `split_edit` says per company and feature what Schematic
would hold after each plan is applied; where the two differ, the edit changes it (before: the
base's outcome, after: the head's). What the base plan itself does would happen without the edit
(CRM changes not yet applied). Used by `plan --base` and by the console's mapping preview.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from crmsync.domain import Action, Change, CompanyId, DesiredOverride, FeatureId, LiveOverride, OverrideId, Provenance
from crmsync.reconcile.effective import ChangeEffect, CompanyPlans, EffectKey, change_effects
from crmsync.reconcile.plan import ORDER, Plan

Key = tuple[CompanyId, FeatureId]


@dataclass(frozen=True)
class EditSplit:
    """The changes a mapping edit causes, and those that would happen without it (the base plan's)."""

    edit: tuple[Change, ...]
    pending: tuple[Change, ...]
    edit_effects: Mapping[EffectKey, ChangeEffect]

    def edit_effect(self, change: Change) -> ChangeEffect | None:
        """What the customer can use before (base applied) and after (head applied) an edit change."""
        return self.edit_effects.get((change.action.value, change.company_id, change.feature_id))


def outcome(live: Iterable[LiveOverride], changes: Iterable[Change]) -> dict[Key, LiveOverride | DesiredOverride]:
    """What Schematic holds per company and feature once `changes` are applied to `live` (in plan order)."""
    held: dict[Key, LiveOverride | DesiredOverride] = {}
    for override in sorted(live, key=lambda o: o.id, reverse=True):  # the first id stands (one per feature)
        held[(override.company_id, override.feature_id)] = override
    for change in changes:
        key = (change.company_id, change.feature_id)
        if change.action is Action.DELETE:
            held.pop(key, None)
        elif change.after is not None:
            held[key] = change.after
    return held


def split_edit(
    base: Plan, head: Plan, live: Sequence[LiveOverride], plans: Mapping[CompanyId, CompanyPlans], now: datetime
) -> EditSplit:
    """The edit's changes (where the base's and the head's outcomes differ, base → head, in plan order)
    and the base plan's changes (what happens without the edit); `plans` for effective entitlements."""
    before, after = outcome(live, base.changes), outcome(live, head.changes)
    ids = {(o.company_id, o.feature_id): o.id for o in live}
    reasons = {(c.company_id, c.feature_id): c.reason for c in head.changes if c.action is not Action.DELETE}
    base_did = {(c.company_id, c.feature_id): c.action for c in base.changes}
    edit: list[Change] = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old is not None and new is not None and old.value == new.value:
            continue
        if old is None and new is None:
            continue
        action = Action.CREATE if old is None else Action.DELETE if new is None else Action.UPDATE
        reason = reasons.get(key) or _why(action, base_did.get(key))
        edit.append(Change(action, key[0], key[1], _as_live(old, key, ids), _as_desired(new, key), reason))
    ordered = tuple(sorted(edit, key=lambda c: (ORDER[c.action], c.company_id, c.feature_id)))  # the plan's order
    return EditSplit(ordered, base.changes, change_effects(ordered, plans, now))


def _why(action: Action, base_action: Action | None) -> str:
    """Why an edit change happens where the head plan itself changes nothing there."""
    if action is Action.DELETE:
        return "the head mappings no longer want this override"
    if base_action is Action.DELETE:
        return "the base mappings would delete this override; the head mappings keep it as it is"
    return "the head mappings keep this override as it is"


def _as_live(
    held: LiveOverride | DesiredOverride | None, key: Key, ids: Mapping[Key, OverrideId]
) -> LiveOverride | None:
    """The base's outcome as the `before` of a change, with the id of the live override it would be
    (empty when the base would create it)."""
    if held is None or isinstance(held, LiveOverride):
        return held
    return LiveOverride(ids.get(key, OverrideId("")), key[0], key[1], held.value)


def _as_desired(held: LiveOverride | DesiredOverride | None, key: Key) -> DesiredOverride | None:
    """The head's outcome as the `after` of a change (provenance empty when it is a live override kept)."""
    if held is None or isinstance(held, DesiredOverride):
        return held
    return DesiredOverride(key[0], key[1], held.value, Provenance((), ()))
