"""serve's health job: the state database, Schematic, the CRMs and the intake's oldest hint are checked
on every tick (real clients against the sandbox), each failing state is one alert, and a CRM field added
since serve started is seen by the mapping checks (the schema is read again)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crmsync.app import connectors_for, schematic_client
from crmsync.cli.demo import sample_mappings
from crmsync.domain import Source
from crmsync.mapping.loader import load_mappings
from crmsync.metrics import SuccessTracker
from crmsync.sandbox import Sandbox
from crmsync.sandbox.faults import Mode
from crmsync.serving.health import HealthCheck
from crmsync.settings import load_settings
from crmsync.store.intake import IntakeStore, NewEvent
from crmsync.store.repository import Store
from tests.e2e.conftest import crmsync_env, fast


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[tuple[Sandbox, HealthCheck, list[tuple[str, str | None]]]]:
    """The sandbox, a health job over real clients and a fresh state database, and what its tracker told."""
    told: list[tuple[str, str | None]] = []
    with Sandbox() as sb:
        settings = fast(load_settings(crmsync_env(sb, f"sqlite:///{tmp_path}/s.db", sample_mappings())))
        store = Store(settings.database_url)
        connectors = connectors_for(settings, load_mappings(sample_mappings()), store)
        with schematic_client(settings, store) as schematic:
            tracker = SuccessTracker(listener=lambda check, why, _message: told.append((check, why)))
            maps = load_mappings(sample_mappings())
            health = HealthCheck(tracker, IntakeStore(store.engine), schematic, connectors, lambda: maps,
                                 intake_max_age=60, schema_every=0)  # fmt: skip
            try:
                yield sb, health, told
            finally:
                for connector in connectors.values():
                    connector.close()
                store.close()


def test_a_hint_older_than_the_threshold_is_a_state_until_it_is_processed(
    parts: tuple[Sandbox, HealthCheck, list[tuple[str, str | None]]],
) -> None:
    """A hint waiting past `intake_max_age`: the `intake` state fails (once told), and ends when it is gone."""
    _sb, health, told = parts
    old = datetime.now(UTC) - timedelta(minutes=10)
    health.intake.add_events([NewEvent("hubspot", "deal.propertyChange", "1023", "k1")], now=old)
    health()
    health()
    assert "intake" in health.tracker.failing() and "waited" in health.tracker.failing()["intake"][0]
    events = health.intake.claim_events("w", 10, 30)
    health.intake.finish_events([e.id for e in events], "w")
    health()
    assert "intake" not in health.tracker.failing()
    assert [(c, w is None) for c, w in told if c == "intake"] == [
        ("intake", False),
        ("intake", False),
        ("intake", True),
    ]


def test_every_needed_api_is_checked_and_a_crm_outage_is_its_state(
    parts: tuple[Sandbox, HealthCheck, list[tuple[str, str | None]]],
) -> None:
    """HubSpot answering 503 to everything: `hubspot` fails (Schematic and Salesforce do not); back, it ends."""
    sb, health, _told = parts
    health()
    assert health.tracker.failing() == {}
    assert all(health.tracker.seen(s) for s in ("schematic", "hubspot", "salesforce"))
    sb.faults.hubspot.add(Mode.ERROR_BEFORE, status=503)
    health()
    assert set(health.tracker.failing()) == {"hubspot"}
    sb.faults.hubspot.clear()
    health()
    assert health.tracker.failing() == {}


def test_a_crm_field_added_since_start_is_seen_by_the_checks(
    parts: tuple[Sandbox, HealthCheck, list[tuple[str, str | None]]],
) -> None:
    """The schema the mapping checks use is read again on the health job's schedule, not once per process."""
    sb, health, _told = parts
    hubspot = health.connectors[Source.HUBSPOT]
    assert hubspot.deal_schema().field("seats_bought") is None
    with sb.hubspot.lock:  # a HubSpot admin creates the property while serve runs
        sb.hubspot.property_types["seats_bought"] = "number"
    health()
    assert hubspot.deal_schema().field("seats_bought") is not None


def test_a_poll_rejected_for_its_token_is_the_crms_credential_state(tmp_path: Path) -> None:
    """A poll answered 401 by HubSpot fails the `hubspot` state naming the token variable; the next good
    poll ends it (polls were silent before: only failing runs were told)."""
    from crmsync.serving.polling import poll

    with Sandbox() as sb:
        settings = fast(load_settings(crmsync_env(sb, f"sqlite:///{tmp_path}/s.db", sample_mappings())))
        store = Store(settings.database_url)
        connectors = connectors_for(settings, load_mappings(sample_mappings()), store)
        tracker = SuccessTracker()
        try:
            poll(store, connectors, lambda _changes: None, tracker=tracker)  # sets the cursors
            sb.faults.hubspot.add(Mode.ERROR_BEFORE, status=401)
            poll(store, connectors, lambda _changes: None, tracker=tracker)
            failing = tracker.failing()
            sb.faults.hubspot.clear()
            poll(store, connectors, lambda _changes: None, tracker=tracker)
        finally:
            for connector in connectors.values():
                connector.close()
            store.close()
    assert set(failing) == {"hubspot"} and "HUBSPOT_ACCESS_TOKEN" in failing["hubspot"][0]
    assert tracker.failing() == {}
