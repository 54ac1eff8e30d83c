"""Saved plans as JSON: a round trip keeps the plan exactly, an edited file is refused, and
any movement of a live override the plan depends on is found."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from crmsync.domain import Action, Change, CompanyId, FeatureId, MetricPeriod, OverrideValue, ValueType
from crmsync.errors import ConfigError, UnsafePlanError
from crmsync.reconcile.adopt import Adoption
from crmsync.reconcile.drift import Drift, DriftAction, DriftPolicy
from crmsync.reconcile.plan import Plan
from crmsync.reconcile.planfile import decode, encode, stale
from tests.core.builders import desired, live, numeric

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
A, SEATS, API = CompanyId("comp_a"), FeatureId("feat_seats"), FeatureId("feat_api")
API_VALUE = OverrideValue(
    ValueType.NUMERIC, value_numeric=500, metric_period=MetricPeriod.CURRENT_MONTH, expiration=T0.replace(second=59)
)
SEATS_LIVE = replace(live("cmov_1", A, SEATS, numeric(3)), updated_at=T0)
OTHER_LIVE = replace(live("cmov_9", "comp_z", "feat_sso", numeric(1)), updated_at=T0)


def plan() -> Plan:
    """An update of comp_a's seats and a create of its API calls."""
    return Plan(
        (
            Change(Action.CREATE, A, API, None, desired(A, API, API_VALUE), "deal 1"),
            Change(Action.UPDATE, A, SEATS, SEATS_LIVE, desired(A, SEATS, numeric(5)), "3 → 5"),
        ),
        names={A: "Acme", SEATS: "Seats", API: "API calls"},
    )


def saved_doc() -> dict[str, object]:
    """The plan file's object, through JSON text as on disk."""
    doc = encode(plan(), [SEATS_LIVE, OTHER_LIVE], intents={}, deals={"hubspot": 11}, created_at=T0)
    loaded: dict[str, object] = json.loads(json.dumps(doc))
    return loaded


def test_a_round_trip_keeps_the_plan_exactly() -> None:
    """Decoding a saved plan gives the same changes, values, provenance and checksum."""
    saved = decode(saved_doc(), "plan.json")
    assert saved.plan.changes == plan().changes and saved.plan.checksum() == plan().checksum()
    assert saved.deals == {"hubspot": 11} and saved.plan.name(A) == "Acme"


def test_drift_and_adoptions_survive_the_round_trip() -> None:
    """A saved plan keeps its drift (apply refuses `fail` from the file too) and the adoptions apply records."""
    drift = Drift(A, SEATS, SEATS_LIVE.id, numeric(5), numeric(3), DriftPolicy.FAIL, DriftAction.REFUSE)
    adoption = Adoption(live("cmov_m", A, API, API_VALUE), desired(A, API, API_VALUE), auto=True)
    with_both = replace(plan(), drift=(drift,), adoptions=(adoption,))
    doc = json.loads(json.dumps(encode(with_both, [SEATS_LIVE], intents={}, deals={}, created_at=T0)))
    saved = decode(doc, "plan.json")
    assert saved.plan.drift == (drift,) and saved.plan.adoptions == (adoption,)


def test_only_overrides_at_changed_keys_are_kept_as_read() -> None:
    """The file records the live overrides the changes depend on, not every override read."""
    assert [r["id"] for r in decode(saved_doc(), "plan.json").read] == ["cmov_1"]


def test_an_edited_file_is_refused() -> None:
    """Changing a value in the file breaks its digest: refused, naming the file and what to do."""
    doc = saved_doc()
    doc["changes"][1]["after"]["value_numeric"] = 5000  # type: ignore[index]
    with pytest.raises(UnsafePlanError, match=r"refusing to apply plan\.json: it was edited .*crmsync plan --out"):
        decode(doc, "plan.json")


def test_a_file_that_is_not_a_plan_is_a_config_error() -> None:
    """Some other JSON object: a ConfigError saying how to write a plan file."""
    with pytest.raises(ConfigError, match="is not a crmsync plan file"):
        decode({"changes": []}, "x.json")


def test_nothing_moved_means_nothing_stale() -> None:
    """The same live overrides as read: no problem."""
    assert stale(decode(saved_doc(), "p"), [SEATS_LIVE, OTHER_LIVE]) == []


def test_a_changed_deleted_or_new_override_is_stale() -> None:
    """An edit, a delete, or a new override at a changed key are each named; other keys do not matter."""
    saved = decode(saved_doc(), "p")
    edited = replace(SEATS_LIVE, value=numeric(4), updated_at=T0.replace(minute=5))
    assert stale(saved, [edited]) == [
        "override cmov_1 (Acme / Seats) was changed (updated 2026-11-21T12:00:00+00:00 → 2026-11-21T12:05:00+00:00)"
    ]
    assert stale(saved, []) == ["override cmov_1 (Acme / Seats) was deleted"]
    extra = live("cmov_2", A, API, numeric(1))
    assert stale(saved, [SEATS_LIVE, extra]) == ["override cmov_2 (Acme / API calls) was created"]
    assert stale(saved, [SEATS_LIVE, replace(OTHER_LIVE, value=numeric(2))]) == []


def test_an_edit_within_the_same_second_is_still_found() -> None:
    """Same updated_at, different value: still stale (the value is compared, not just the time)."""
    assert stale(decode(saved_doc(), "p"), [replace(SEATS_LIVE, value=numeric(4))])
