"""Alerts: one Slack message when runs start failing and one on recovery, through real httpx to a
loopback receiver; never one per failed run in a row; a Slack outage never fails a run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from crmsync.domain import RunStatus, Trigger
from crmsync.metrics import SuccessTracker
from crmsync.notify.slack import SlackWebhook
from crmsync.sandbox.serve import serve_app
from crmsync.serving.alerts import Alerter, RunFacts
from crmsync.store.repository import Store
from tests.e2e.test_cli import free_port

DOWN: list[bool] = [False]  # while True, the stand-in answers 500 as Slack does in an incident


@pytest.fixture
def slack() -> Iterator[tuple[str, list[str]]]:
    """A loopback stand-in for a Slack incoming webhook: its URL and the texts it received."""
    received: list[str] = []
    DOWN[0] = False

    async def hook(request: Request) -> PlainTextResponse:
        if DOWN[0]:
            return PlainTextResponse("internal_error", status_code=500)
        received.append(json.loads(await request.body())["text"])
        return PlainTextResponse("ok")

    served = serve_app(Starlette(routes=[Route("/services/T0/B0/secret", hook, methods=["POST"])]))
    try:
        yield f"{served.url}/services/T0/B0/secret", received
    finally:
        served.stop()


def facts(status: RunStatus, run_id: int, errors: tuple[str, ...] = ()) -> RunFacts:
    return RunFacts(run_id, Trigger.WEBHOOK, status, {"create": 2, "failed": len(errors)}, errors)


def test_one_message_when_runs_start_failing_and_one_on_recovery(slack: tuple[str, list[str]], tmp_path: Path) -> None:
    """ok, failed, failed, failed, ok, ok: exactly a failure message (counts, first errors) and a recovery."""
    url, received = slack
    store = Store(f"sqlite:///{tmp_path}/state.db")
    webhook = SlackWebhook(url)
    alerter = Alerter(store, webhook.send)
    errors = tuple(f"create Acme / Seats: Schematic API 500 #{n}" for n in range(5))
    for status, run_id in [
        (RunStatus.OK, 1),
        (RunStatus.FAILED, 2),
        (RunStatus.FAILED, 3),
        (RunStatus.REFUSED, 4),
        (RunStatus.OK, 5),
        (RunStatus.OK, 6),
    ]:
        alerter.observe(facts(status, run_id, errors if status is not RunStatus.OK else ()))
    webhook.close()
    store.close()
    assert len(received) == 2, received
    failure, recovery = received
    assert "run #2 (webhook) failed" in failure and "2 create" in failure and "5 failed" in failure
    assert "#0" in failure and "#2" in failure and "#3" not in failure and "and 2 more" in failure
    assert "recovered: run #5" in recovery


def test_the_failing_state_is_shared_through_the_state_database(slack: tuple[str, list[str]], tmp_path: Path) -> None:
    """A failure seen by one replica and a recovery seen by another make one pair of messages."""
    url, received = slack
    first, second = Store(f"sqlite:///{tmp_path}/s.db"), Store(f"sqlite:///{tmp_path}/s.db")
    webhook = SlackWebhook(url)
    Alerter(first, webhook.send).observe(facts(RunStatus.FAILED, 1, ("boom",)))
    Alerter(second, webhook.send).observe(facts(RunStatus.FAILED, 2, ("boom",)))
    Alerter(second, webhook.send).observe(facts(RunStatus.OK, 3))
    webhook.close()
    first.close()
    second.close()
    assert [t.split(":")[1] for t in received] == ["red_circle", "large_green_circle"]


def test_an_unreachable_slack_never_fails_the_run_and_never_shows_the_url(tmp_path: Path) -> None:
    """Slack down: send says False, the alert is dropped, no exception, the URL (a secret) is not logged."""
    url = f"http://127.0.0.1:{free_port()}/services/T0/B0/very-secret-path"
    webhook = SlackWebhook(url)
    assert webhook.send("hello") is False
    webhook.close()


def test_a_slack_500_keeps_the_alert_and_its_recovery(slack: tuple[str, list[str]], tmp_path: Path) -> None:
    """Slack answers 500 to the failure alert: it is sent at the next retry, and the recovery after it."""
    url, received = slack
    store = Store(f"sqlite:///{tmp_path}/state.db")
    webhook = SlackWebhook(url)
    alerter = Alerter(store, webhook.send)
    DOWN[0] = True
    alerter.observe(facts(RunStatus.FAILED, 1, ("boom",)))
    alerter.retry()
    assert received == []
    DOWN[0] = False
    alerter.retry()
    alerter.observe(facts(RunStatus.OK, 2))
    webhook.close()
    store.close()
    assert len(received) == 2 and "run #1" in received[0] and "recovered: run #2" in received[1]


def test_a_state_that_begins_and_ends_while_slack_is_down_is_told_late(
    slack: tuple[str, list[str]], tmp_path: Path
) -> None:
    """An outage Slack refused to announce, over before Slack is back: one late message tells both."""
    url, received = slack
    store = Store(f"sqlite:///{tmp_path}/state.db")
    webhook = SlackWebhook(url)
    tracker = SuccessTracker(listener=(alerter := Alerter(store, webhook.send)).listen)
    DOWN[0] = True
    tracker.failed("schematic", "Schematic API: 500 Internal Server Error")
    tracker.succeeded("schematic")
    alerter.retry()
    DOWN[0] = False
    alerter.retry()
    alerter.retry()
    webhook.close()
    store.close()
    assert len(received) == 1
    assert "Schematic API failing since" in received[0] and "Schematic API recovered" in received[0]


def test_an_api_outage_is_one_message_however_many_calls_fail(slack: tuple[str, list[str]], tmp_path: Path) -> None:
    """Hint resolution, polls and runs all meet the outage: one message when it begins, one when it ends."""
    url, received = slack
    store = Store(f"sqlite:///{tmp_path}/state.db")
    webhook = SlackWebhook(url)
    tracker = SuccessTracker(listener=Alerter(store, webhook.send).listen)
    for _ in range(5):
        tracker.failed("hubspot", "HubSpot API: rejected the token (401) (check HUBSPOT_ACCESS_TOKEN)")
    assert tracker.failing()["hubspot"][0].startswith("HubSpot API: rejected")
    for _ in range(3):
        tracker.succeeded("hubspot")
    webhook.close()
    store.close()
    assert len(received) == 2
    assert "HubSpot API failing since" in received[0] and "HUBSPOT_ACCESS_TOKEN" in received[0]
    assert "HubSpot API recovered" in received[1]


def test_withheld_changes_are_one_message_with_the_numbers_and_how_to_approve(
    slack: tuple[str, list[str]], tmp_path: Path
) -> None:
    """A guard withholds a run's changes: one message naming the numbers and POST /approve; it ends with the
    next full run that applies (a run of one company does not end it)."""
    url, received = slack
    store = Store(f"sqlite:///{tmp_path}/state.db")
    webhook = SlackWebhook(url)
    alerter = Alerter(store, webhook.send)
    guard = "12 of 40 owned overrides (30%) would be deleted or downgraded; the limit is 25%"
    held = RunFacts(7, Trigger.SCHEDULE, RunStatus.REFUSED, {"delete": 12}, (), (guard,), full=True)
    alerter.observe(held)
    alerter.observe(held)
    alerter.observe(RunFacts(8, Trigger.WEBHOOK, RunStatus.OK, {}, ()))
    alerter.observe(RunFacts(9, Trigger.APPROVE, RunStatus.OK, {"delete": 12}, (), full=True))
    webhook.close()
    store.close()
    assert len(received) == 2, received
    assert "withheld" in received[0] and "12 of 40" in received[0] and "/approve" in received[0]
    assert "nothing is withheld any more" in received[1]


def test_a_secret_quoted_in_an_error_is_masked_in_the_slack_message(slack: tuple[str, list[str]]) -> None:
    """Slack is an output path too: the configured secret values never reach the channel; plain words do."""
    from crmsync import redaction

    url, received = slack
    webhook = SlackWebhook(url)
    redaction.configure(["sch_live_s3cr3t"])
    try:
        assert webhook.send("Schematic rejected key sch_live_s3cr3t: missing or wrong bearer token")
    finally:
        redaction.configure(())
        webhook.close()
    assert received == ["Schematic rejected key ***: missing or wrong bearer token"]
