"""Schematic's object shapes for the emulator: override field validation and JSON rendering.

Used by `schematic.py` (state) and `schematic_api.py` (endpoints). Rendering follows the
reference (§2.4, §4, §5) and the spec's required fields: companies carry `keys` as an array
and `traits` as an object, overrides embed their company and feature, times are RFC 3339 UTC
with a `Z`.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from crmsync.sandbox.common import iso_z

VALUE_TYPES = ("boolean", "credit", "numeric", "trait", "unknown", "unlimited")
METRIC_PERIODS = ("all_time", "current_day", "current_week", "current_month")
MONTH_RESETS = ("first_of_month", "billing_cycle")
FEATURE_TYPES = ("boolean", "event", "trait", "license")
VALUE_FIELDS = (
    "value_bool",
    "value_numeric",
    "value_trait_id",
    "value_credit_id",
    "consumption_rate",
    "metric_period",
    "metric_period_month_reset",
    "expiration_date",
)
_ALPHABET = string.ascii_letters + string.digits

Record = dict[str, Any]


class InvalidField(ValueError):
    """A request field Schematic would reject with 400."""


def new_id(prefix: str) -> str:
    """A Schematic-style id: `cmov_…`, `comp_…`, `feat_…`."""
    return f"{prefix}_{''.join(secrets.choice(_ALPHABET) for _ in range(14))}"


def newest(records: Iterable[Record]) -> list[Record]:
    """Newest first: by `created_at`, ties the later created first (`records` in creation order)."""
    return sorted(reversed(list(records)), key=lambda r: r["created_at"], reverse=True)


def parse_time(value: str) -> datetime:
    """An RFC 3339 date-time with an offset (a date alone means midnight UTC)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidField(f"invalid date-time {value!r}: expected RFC 3339, e.g. 2027-01-31T00:00:00Z") from exc
    if len(value) == 10:
        return moment.replace(tzinfo=UTC)
    if moment.tzinfo is None:
        raise InvalidField(f"invalid date-time {value!r}: RFC 3339 needs an offset, e.g. Z")
    return moment


def _enum(allowed: tuple[str, ...], nullable: bool = True) -> Callable[[str, object], object]:
    def check(name: str, value: object) -> object:
        if (value is None and nullable) or value in allowed:
            return value
        raise InvalidField(f"invalid {name} {value!r}: expected one of {', '.join(allowed)}")

    return check


def _typed(kind: type, label: str) -> Callable[[str, object], object]:
    def check(name: str, value: object) -> object:
        if value is None or (isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))):
            return value
        raise InvalidField(f"invalid {name} {value!r}: expected {label}")

    return check


def _rate(name: str, value: object) -> object:
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return value
    raise InvalidField(f"invalid {name} {value!r}: expected a number")


def _expiration(name: str, value: object) -> object:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidField(f"invalid {name} {value!r}: expected an RFC 3339 string")
    return iso_z(parse_time(value))


_CHECKS: dict[str, Callable[[str, object], object]] = {
    "value_type": _enum(VALUE_TYPES, nullable=False),
    "value_bool": _typed(bool, "true, false or null"),
    "value_numeric": _typed(int, "an integer (int64) or null"),
    "value_trait_id": _typed(str, "a trait id or null"),
    "value_credit_id": _typed(str, "a credit id or null"),
    "credit_consumption_rate": _rate,
    "metric_period": _enum(METRIC_PERIODS),
    "metric_period_month_reset": _enum(MONTH_RESETS),
    "expiration_date": _expiration,
    "note": _typed(str, "a string or null"),
}


def override_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """The settable override fields present in `body`, checked and normalised (null kept)."""
    fields = {name: check(name, body[name]) for name, check in _CHECKS.items() if name in body}
    if "credit_consumption_rate" in fields:  # written under one name, read back under another
        fields["consumption_rate"] = fields.pop("credit_consumption_rate")
    return fields


def _plan_view(plan: Record) -> Record:
    """A `CompanyPlanWithBillingSubView`: `plan_version_id` is null for a plan without version."""
    return {
        "id": plan["id"],
        "name": plan["name"],
        "plan_version_id": plan["version_id"],
        "description": None,
        "image_url": None,
        "included_credit_grants": [],
    }


def render_plan(plan: Record) -> Record:
    """A `PlanResponseData` (as embedded in plan entitlements)."""
    return {
        "id": plan["id"],
        "name": plan["name"],
        "description": "",
        "icon": "blue",
        "plan_type": plan["plan_type"],
        "created_at": plan["created_at"],
        "updated_at": plan["updated_at"],
    }


def render_company(company: Record, plans: Mapping[str, Record], environment_id: str) -> Record:
    """A company as `GET /companies/{id}` returns it: every field `CompanyDetailResponseData`
    requires (billing, metrics and rules empty), `plan` absent when on none, `traits` an object."""
    by_version = {p["version_id"]: p for p in plans.values() if p["version_id"]}
    plan = plans.get(company["plan_id"] or "")
    add_ons = [by_version[v] for v in company["add_ons"] if v in by_version]
    keys = [
        {
            "id": key_id,
            "key": key,
            "value": value,
            "definition_id": f"ekdf_{key}",
            "entity_type": "company",
            "entity_id": company["id"],
            "environment_id": environment_id,
            "created_at": company["created_at"],
            "updated_at": company["updated_at"],
        }
        for key, (key_id, value) in company["keys"].items()
    ]
    body: Record = {
        "id": company["id"],
        "name": company["name"],
        "environment_id": environment_id,
        "keys": keys,
        "add_ons": [_plan_view(a) for a in add_ons],
        "traits": dict(company["traits"]),
        "plans": [
            {"id": p["id"], "name": p["name"], "description": None, "image_url": None}
            for p in ([plan] if plan is not None else []) + add_ons
        ],
        "entitlements": [],
        "entity_traits": [],
        "metrics": [],
        "rules": [],
        "user_count": 0,
        "billing_subscriptions": [],
        "custom_plan_billings": [],
        "payment_methods": [],
        "created_at": company["created_at"],
        "updated_at": company["updated_at"],
    }
    if plan is not None:  # optional in the spec: a company on no plan has none
        body["plan"] = _plan_view(plan)
    return body


def render_flag(feature: Record) -> Record | None:
    """A feature's flag as `GET /flags` returns it, or None when it has none."""
    flag = feature["flag"]
    if flag is None:
        return None
    return {
        "id": flag["id"],
        "key": flag["key"],
        "name": feature["name"],
        "description": "",
        "feature_id": feature["id"],
        "flag_type": "boolean",
        "default_value": False,
        "rules": [],
        "created_at": feature["created_at"],
        "updated_at": feature["updated_at"],
    }


def render_feature(feature: Record) -> Record:
    """A feature with its flags (the key lives on the flag, not the feature) and the required
    `icon` and `plans` (plans are not tracked per feature: empty)."""
    flag = render_flag(feature)
    return {
        "id": feature["id"],
        "name": feature["name"],
        "description": "",
        "icon": "",
        "feature_type": feature["feature_type"],
        "flags": [] if flag is None else [flag],
        "plans": [],
        "created_at": feature["created_at"],
        "updated_at": feature["updated_at"],
    }


def empty_override(override_id: str, company_id: str, feature_id: str, environment_id: str, now: str) -> Record:
    """A new override record with every value field null and no notes."""
    record: Record = {
        "id": override_id,
        "company_id": company_id,
        "feature_id": feature_id,
        "environment_id": environment_id,
        "value_type": "unknown",
    }
    record.update(dict.fromkeys(VALUE_FIELDS))
    record.update(notes=[], created_at=now, updated_at=now)
    return record


def note_record(text: str, now: str) -> Record:
    """One entry of an override's `notes[]`. The author fields are required strings in the spec;
    an API-key write has no user, so they are empty, never null."""
    return {
        "id": new_id("cmnt"),
        "note": text,
        "external_user_id": "",
        "external_user_name": "",
        "created_at": now,
        "updated_at": now,
    }
