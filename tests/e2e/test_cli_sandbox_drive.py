"""Driving a running `crmsync sandbox` from another shell: `sandbox deal|opportunity close|update|delete`
change the emulated CRM (read back through its real API), and `--push-to URL` sends webhooks that a
crmsync web app configured from the exported variables accepts as genuine."""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from crmsync.cli import app
from crmsync.sandbox.serve import serve_app
from crmsync.settings import load_settings
from crmsync.store.intake import IntakeStore
from crmsync.store.repository import Store
from crmsync.web.app import make_app
from crmsync.web.webhooks import Ingress
from tests.e2e.test_cli import free_port

CLI = [sys.executable, "-c", "from crmsync.cli import main; main()"]
runner = CliRunner()


@dataclass
class Running:
    """A `crmsync sandbox` process, what it exported, and the intake its pushed webhooks land in."""

    env: dict[str, str]
    intake: IntakeStore

    def crmsync(self, *args: str) -> tuple[int, str]:
        """Run `crmsync …` as a second shell would, with the exported variables."""
        result = runner.invoke(app, list(args), env=self.env)
        return result.exit_code, result.output

    def deal(self, deal_id: str) -> dict[str, str]:
        """A HubSpot deal's properties, read back through the emulator's deals API."""
        answer = httpx.get(f"{self.env['HUBSPOT_API_URL']}/crm/v3/objects/deals/{deal_id}",
                           params={"properties": "dealstage,seats_purchased", "archived": "false"},
                           headers={"Authorization": f"Bearer {self.env['HUBSPOT_ACCESS_TOKEN']}"})  # fmt: skip
        return dict(answer.json().get("properties", {})) if answer.status_code == 200 else {}


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    """`crmsync sandbox --push-to` a crmsync web app (verifying with the exported secrets) on loopback."""
    port = free_port()
    store = Store(f"sqlite:///{tmp_path}/receiver.db")
    intake = IntakeStore(store.engine)
    args = ["--hubspot-port", "0", "--schematic-port", "0", "--salesforce-port", "0", "--control-port", "0"]
    url = f"http://127.0.0.1:{port}"
    with subprocess.Popen([*CLI, "sandbox", *args, "--push-to", url], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        env: dict[str, str] = {}
        for line in proc.stdout:
            if line.startswith("export "):
                name, value = shlex.split(line)[1].split("=", 1)
                env[name] = value
            if line.startswith("crmsync plan --mappings"):
                break
        receiver = make_app(Ingress(intake, load_settings(env).web))
        try:
            with serve_app(receiver, port=port):
                try:
                    yield Running(env, intake)
                finally:  # the sandbox (and its pushes) stop before the receiver: no connection left open
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
            store.close()


def test_a_deal_closed_from_the_shell_is_seen_by_the_crm_api_and_pushed_as_a_signed_webhook(running: Running) -> None:
    """`sandbox deal close 1023 seats_purchased=300`: exit 0, the deal is won with 300 seats, and the
    webhook it pushes is accepted by a crmsync app configured from the sandbox's exports."""
    code, output = running.crmsync("sandbox", "deal", "close", "1023", "seats_purchased=300")
    assert code == 0, output
    assert "HubSpot deal 1023 closed (won)." in output and "seats_purchased = 300" in output
    deal = running.deal("1023")
    assert deal["dealstage"] == "closedwon" and deal["seats_purchased"] == "300"
    deadline = time.monotonic() + 30
    while running.intake.depth().events == 0:
        assert time.monotonic() < deadline, "no webhook stored"
        time.sleep(0.05)


def test_update_and_delete_of_deals_and_opportunities(running: Running) -> None:
    """update sets fields, delete archives; a Salesforce opportunity closes with typed fields."""
    assert running.crmsync("sandbox", "deal", "update", "1023", "seats_purchased=42")[0] == 0
    assert running.deal("1023")["seats_purchased"] == "42"
    assert running.crmsync("sandbox", "deal", "delete", "1023")[0] == 0
    assert running.deal("1023") == {}
    code, output = running.crmsync("sandbox", "opportunity", "close", "006000000000101AAA", "Seats__c=45")
    assert code == 0 and "Seats__c = 45.0" in output, output


def test_driving_mistakes_are_one_line(running: Running) -> None:
    """An unknown deal, a field without `=`, and no sandbox at all: exit 1 or 2 with one plain line."""
    code, output = running.crmsync("sandbox", "deal", "close", "99999")
    assert code == 1 and output.strip() == "crmsync: sandbox deal close 99999: no HubSpot deal 99999 in the sandbox"
    code, output = running.crmsync("sandbox", "deal", "update", "1023", "seats_purchased")
    assert code == 2 and "give fields as name=value" in output and len(output.strip().splitlines()) == 1
    gone = f"http://127.0.0.1:{free_port()}"
    code, output = running.crmsync("sandbox", "deal", "close", "1023", "--sandbox", gone)
    assert code == 1 and "no sandbox answers at" in output and "Traceback" not in output
