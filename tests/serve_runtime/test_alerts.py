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
from crmsync.notify.slack import SlackWebhook
from crmsync.sandbox.serve import serve_app
from crmsync.serving.alerts import Alerter, RunFacts
from crmsync.store.repository import Store
from tests.e2e.test_cli import free_port


@pytest.fixture
def slack() -> Iterator[tuple[str, list[str]]]:
    """A loopback stand-in for a Slack incoming webhook: its URL and the texts it received."""
    received: list[str] = []

    async def hook(request: Request) -> PlainTextResponse:
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
    for status, run_id in [(RunStatus.OK, 1), (RunStatus.FAILED, 2), (RunStatus.FAILED, 3), (RunStatus.REFUSED, 4),
                           (RunStatus.OK, 5), (RunStatus.OK, 6)]:
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
