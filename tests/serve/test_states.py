"""serve left alone: a mapping typo never halts it, an outage is one alert and one recovery, /readyz and
the metrics tell the truth. The real service (app.py `build_service`) runs with its lifespan on loopback
against the sandbox, pushing webhooks to it; Slack is a loopback receiver that can answer 500."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from crmsync.app import build_service
from crmsync.cli.demo import sample_mappings
from crmsync.sandbox import Sandbox
from crmsync.sandbox.faults import Mode
from crmsync.sandbox.serve import serve_app
from crmsync.serving.runtime import ServeOptions, Service
from crmsync.serving.worker import wait_idle
from crmsync.settings import load_settings
from tests.e2e.conftest import crmsync_env, fast
from tests.serve.test_serve_command import free_port

OPS = "ops-token-for-tests-0123456789abcdef"  # at least 24 characters: serve refuses shorter


@dataclass
class Slack:
    """A loopback stand-in for a Slack incoming webhook: what it took, and whether it answers 500."""

    url: str = ""
    received: list[str] = field(default_factory=list)
    refused: int = 0
    down: bool = False


@dataclass
class Live:
    """The sandbox, the running service, its URL, its mapping folder and the Slack stand-in."""

    sb: Sandbox
    service: Service
    url: str
    folder: Path
    slack: Slack

    def get(self, path: str) -> httpx.Response:
        """GET one of serve's endpoints."""
        return httpx.get(f"{self.url}{path}", timeout=10)

    def metric(self, line_start: str) -> float | None:
        """The value of the first /metrics sample whose line starts with `line_start`."""
        for line in self.get("/metrics").text.splitlines():
            if line.startswith(line_start):
                return float(line.rsplit(" ", 1)[1])
        return None

    def seats(self, company: str) -> float | None:
        """The company's seats override value in the Schematic sandbox."""
        return next((o["value_numeric"] for o in self.sb.schematic.overrides.values()
                     if o["company_id"] == company and o["feature_id"] == "feat_seats"), None)  # fmt: skip


def eventually(check: Callable[[], object], timeout: float = 60, what: str = "condition") -> None:
    """Wait until `check()` is truthy."""
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def slack() -> Iterator[Slack]:
    """The Slack stand-in, served on loopback."""
    state = Slack()

    async def hook(request: Request) -> PlainTextResponse:
        if state.down:
            state.refused += 1
            return PlainTextResponse("internal_error", status_code=500)
        state.received.append(json.loads(await request.body())["text"])
        return PlainTextResponse("ok")

    served = serve_app(Starlette(routes=[Route("/services/T0/B0/x", hook, methods=["POST"])]))
    state.url = f"{served.url}/services/T0/B0/x"
    try:
        yield state
    finally:
        served.stop()


@pytest.fixture
def live(tmp_path: Path, slack: Slack) -> Iterator[Live]:
    """The sample sandbox pushing webhooks to a running serve (mappings copied to a folder the test edits),
    health checked every 0.3 s, caught up with its start-up resync."""
    folder = tmp_path / "maps"
    shutil.copytree(sample_mappings(), folder, ignore=shutil.ignore_patterns("tests"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with Sandbox() as sb:
        env = crmsync_env(sb, f"sqlite:///{tmp_path}/state.db", folder) | sb.subscribe(url)
        env |= {"CRMSYNC_SLACK_WEBHOOK_URL": slack.url, "CRMSYNC_OPS_TOKEN": OPS}
        settings = fast(load_settings(env))
        settings = replace(settings, schematic=replace(settings.schematic, attempts=2, deadline=2.0))
        options = ServeOptions(port=port, poll_interval=3600, health_interval=0.3)
        service = build_service(settings, options)
        try:
            with serve_app(service.app, port=port, lifespan=True):
                store = service.context.store
                resynced = lambda: any(r.trigger == "schedule" and r.status == "ok" for r in store.runs(5))  # noqa: E731
                eventually(resynced, what="the start-up resync")
                assert wait_idle(service.intake, 60)
                eventually(lambda: httpx.get(f"{url}/readyz").status_code == 200, what="ready")
                yield Live(sb, service, url, folder, slack)
        finally:
            service.resources.close()


def test_a_crm_side_typo_is_rejected_while_the_previous_mappings_keep_syncing(live: Live) -> None:
    """`from: seats_purchase` (no such HubSpot property): rejected with its file:line:col, /readyz and the
    metrics show it, a deal close still applies under the old mappings, one alert; the fix is one more."""
    path = live.folder / "hubspot.yaml"
    good = path.read_text()
    path.write_text(good.replace("from: seats_purchased", "from: seats_purchase"))
    eventually(lambda: live.metric("crmsync_mappings_rejected ") == 1.0, what="the rejection")
    failing = live.get("/readyz").json()["failing"]
    assert "seats_purchase" in failing["mappings"]["reason"] and f"{path}:" in failing["mappings"]["reason"]
    live.sb.hubspot.update_deal("1023", dealstage="closedwon", seats_purchased="300")
    eventually(lambda: live.seats("comp_hooli") == 300, what="the deal close applied")
    assert [m for m in live.slack.received if "mapping files" in m] == live.slack.received
    assert len(live.slack.received) == 1 and "seats_purchase" in live.slack.received[0]
    path.write_text(good)
    eventually(lambda: live.metric("crmsync_mappings_rejected ") == 0.0, what="the fix taken")
    eventually(lambda: len(live.slack.received) == 2, what="the recovery alert")
    assert "mapping files are valid" in live.slack.received[1]
    assert "mappings" not in live.get("/readyz").json()["failing"]


def test_schematic_down_is_one_alert_not_ready_and_recovery_applies_every_pending_hint(live: Live) -> None:
    """Every Schematic call 500 for a while: one alert, /readyz 503 naming Schematic; on recovery one more
    alert, ready again, and the deal closed meanwhile is applied."""
    live.sb.faults.schematic.add(Mode.ERROR_BEFORE, status=500)
    live.sb.hubspot.update_deal("1023", dealstage="closedwon", seats_purchased="300")
    eventually(lambda: live.get("/readyz").status_code == 503, what="not ready")
    body = live.get("/readyz").json()
    assert "schematic" in body["failing"] and "schematic" in body["reason"]
    assert live.metric('crmsync_up{service="schematic"}') == 0.0
    time.sleep(3)  # ten health checks and the hint's retries meet the outage: still one message
    assert len(live.slack.received) == 1 and "Schematic API failing since" in live.slack.received[0]
    live.sb.faults.schematic.clear()
    eventually(lambda: live.get("/readyz").status_code == 200, what="ready again")
    eventually(lambda: live.seats("comp_hooli") == 300, timeout=90, what="the pending hint applied")
    assert len(live.slack.received) == 2 and "Schematic API recovered" in live.slack.received[1]
    assert live.metric('crmsync_up{service="schematic"}') == 1.0


def test_a_slack_outage_delays_the_alert_and_its_recovery_but_drops_neither(live: Live) -> None:
    """Slack answers 500 while Schematic goes down: the alert is sent once Slack is back, and the recovery too."""
    live.slack.down = True
    live.sb.faults.schematic.add(Mode.ERROR_BEFORE, status=500)
    eventually(lambda: live.slack.refused >= 2, what="refused sends")
    live.slack.down = False
    eventually(lambda: len(live.slack.received) == 1, what="the alert, late")
    live.sb.faults.schematic.clear()
    eventually(lambda: len(live.slack.received) == 2, what="the recovery")
    assert "failing since" in live.slack.received[0] and "recovered" in live.slack.received[1]


def test_reconcile_of_an_unknown_company_is_404_naming_it(live: Live) -> None:
    """POST /reconcile {"companies": ["comp_nope"]} answers 404 naming it and queues nothing."""
    auth = {"Authorization": f"Bearer {OPS}"}
    answer = httpx.post(f"{live.url}/reconcile", json={"companies": ["comp_hooli", "comp_nope"]}, headers=auth)
    assert answer.status_code == 404 and "comp_nope" in answer.json()["error"]
    assert "comp_hooli" not in answer.json()["error"]
    assert live.service.intake.depth().companies == 0
    assert httpx.post(f"{live.url}/reconcile", json={"companies": ["comp_hooli"]}, headers=auth).status_code == 202


def test_changes_a_guard_withholds_are_alerted_and_applied_once_an_operator_approves(live: Live) -> None:
    """Every HubSpot deal lost: the full run withholds its deletes (one alert with the numbers and how to
    approve, a metric); POST /approve by an operator applies them, records who, and ends the state."""
    live.sb.webhooks.stop()  # one full run decides, not a webhook per deal
    owned = sum("crmsync" in json.dumps(o.get("notes", "")) for o in live.sb.schematic.overrides.values())
    lost = {"closedwon": "closedlost", "ent_won": "ent_lost"}
    for deal_id, deal in list(live.sb.hubspot.deals.items()):
        if deal.properties.get("dealstage", "") in lost:
            live.sb.hubspot.update_deal(deal_id, dealstage=lost[deal.properties["dealstage"]])
    auth = {"Authorization": f"Bearer {OPS}"}
    assert httpx.post(f"{live.url}/reconcile", headers=auth).status_code == 202
    eventually(lambda: any("withheld" in m for m in live.slack.received), what="the withheld alert")
    (alert,) = live.slack.received
    assert "hubspot returned no deals" in alert and "/approve" in alert
    withheld = live.metric('crmsync_last_run{count="withheld_changes"}')
    assert withheld is not None and withheld > 0
    assert "withheld" in live.get("/readyz").json()["failing"]
    refused = httpx.post(f"{live.url}/approve", json={"scope": "all"}, headers=auth)
    assert refused.status_code == 400 and "actor" in refused.json()["error"]
    assert httpx.post(f"{live.url}/approve", json={"scope": "all", "actor": "x"}).status_code == 401
    answer = httpx.post(f"{live.url}/approve", json={"scope": "all", "actor": "ana@example.com"}, headers=auth,
                        timeout=60)  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "ok" and answer.json()["changes"]["delete"] > 0
    run = live.service.context.store.runs(1)[0]
    assert run.trigger == "approve" and run.actor == "ana@example.com"
    after = sum("crmsync" in json.dumps(o.get("notes", "")) for o in live.sb.schematic.overrides.values())
    assert after < owned
    assert len(live.slack.received) == 2 and "nothing is withheld any more" in live.slack.received[1]
    assert "withheld" not in live.get("/readyz").json()["failing"]


def test_readyz_is_not_ready_while_schematic_was_never_reachable_though_hubspot_answers(tmp_path: Path) -> None:
    """Schematic unreachable for serve's whole life: HubSpot's answers do not make it ready; the body
    names Schematic and its URL variable, and holds no secret."""
    port = free_port()
    with Sandbox() as sb:
        env = crmsync_env(sb, f"sqlite:///{tmp_path}/state.db", sample_mappings())
        env |= {"SCHEMATIC_API_URL": f"http://127.0.0.1:{free_port()}"}
        settings = fast(load_settings(env))
        settings = replace(settings, schematic=replace(settings.schematic, attempts=1, deadline=1.0))
        service = build_service(settings, ServeOptions(port=port, health_interval=0.3))
        try:
            with serve_app(service.app, port=port, lifespan=True):
                eventually(lambda: service.tracker.seen("hubspot"), what="HubSpot answering")
                answer = httpx.get(f"http://127.0.0.1:{port}/readyz")
        finally:
            service.resources.close()
    assert answer.status_code == 503
    body = answer.json()
    assert "schematic" in body["failing"] and "SCHEMATIC_API_URL" in body["failing"]["schematic"]["reason"]
    assert "hubspot" not in body["failing"]
    for secret in (sb.hubspot.access_token, env["SCHEMATIC_API_KEY"]):
        assert secret not in answer.text


def test_a_reload_that_drops_or_adds_a_source_drops_or_builds_its_connector(live: Live) -> None:
    """Removing salesforce.yaml drops the Salesforce connector (and /readyz stops needing it); putting it
    back builds one again, checked online first; the revision in force follows each edit."""
    from crmsync.domain import Source

    connectors = live.service.context.connectors
    path = live.folder / "salesforce.yaml"
    text = path.read_text()
    first = live.get("/metrics").text
    path.unlink()
    eventually(lambda: Source.SALESFORCE not in connectors, what="the connector dropped")
    assert Source.HUBSPOT in connectors
    path.write_text(text.replace("source: salesforce", "source: salesforce\n", 1))
    eventually(lambda: Source.SALESFORCE in connectors, what="the connector built again")
    assert live.metric("crmsync_mappings_rejected ") == 0.0
    revisions = [line for line in live.get("/metrics").text.splitlines() if line.startswith("crmsync_mappings_rev")]
    assert len(revisions) == 1 and revisions[0] not in first


def test_an_outage_longer_than_the_attempt_budget_loses_no_hint(live: Live) -> None:
    """Schematic down for many times the hints' retry budget: no hint is given up for it; once Schematic is
    back the deal closed during the outage is applied (not left for the resync hours later)."""
    from crmsync.serving.worker import WorkerSettings

    live.service.worker.settings = WorkerSettings(retry_delay=0.05, max_attempts=2, outage_retry_max=0.3)
    live.sb.faults.schematic.add(Mode.ERROR_BEFORE, status=500)
    live.sb.hubspot.update_deal("1023", dealstage="closedwon", seats_purchased="300")
    eventually(lambda: live.get("/readyz").status_code == 503, what="not ready")
    time.sleep(3)  # about ten resolution attempts, five times the budget
    live.sb.faults.schematic.clear()
    eventually(lambda: live.seats("comp_hooli") == 300, timeout=30, what="the hint applied after the outage")
