"""The Salesforce connector's log events: each retry, each fresh login, a read cut short by the
API limit; and never the password, security token or session id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from crmsync import logs
from crmsync.connectors.base import DealQuery
from crmsync.mapping.rules import DealFilter
from tests.salesforce_fixtures import ACME, EmulatorServer, RunningOrg, seed_accounts, seed_custom_fields

QUERY = DealQuery(filters=(DealFilter(stages=("Closed Won",)),), properties=("Amount",))


@pytest.fixture
def org(salesforce_server: EmulatorServer) -> Iterator[RunningOrg]:
    """A fresh org with two won opportunities."""
    with salesforce_server.org() as running:
        seed_accounts(running.state)
        seed_custom_fields(running.state)
        running.state.add_opportunities([{"IsWon": True, "StageName": "Closed Won", "AccountId": ACME}] * 2)
        yield running


@pytest.fixture
def json_logs(org: RunningOrg) -> Iterator[None]:
    """Debug-level JSON logs on stderr with the org's secrets configured; reset afterwards."""
    logs.configure_logging("json", "debug", secrets=[org.state.password, org.state.security_token])
    yield
    logs.reset_logging()


def read_logs(capsys: pytest.CaptureFixture[str]) -> tuple[str, list[dict[str, Any]]]:
    """stderr, and its JSON lines parsed."""
    err = capsys.readouterr().err
    return err, [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_a_server_error_retry_is_logged(org: RunningOrg, json_logs: None, capsys: pytest.CaptureFixture[str]) -> None:
    """A 503 answered once: an `api.retry` event with service, status, attempt and wait."""
    org.state.fail_next(503)
    assert len(org.connector().read_deals(QUERY).deals) == 2
    _, events = read_logs(capsys)
    (retry,) = [e for e in events if e["event"] == "api.retry"]
    assert retry["service"] == "salesforce" and retry["status"] == 503 and retry["attempt"] == 1
    assert retry["wait_s"] >= 0


def test_a_fresh_login_after_an_expired_session_is_logged_without_secrets(
    org: RunningOrg, json_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """An expired session under the password flow: an `api.relogin` event; no password or token in any line."""
    connector = org.connector("password")
    connector.read_deals(QUERY)
    org.state.expire_sessions()
    connector.read_deals(QUERY)
    err, events = read_logs(capsys)
    (relogin,) = [e for e in events if e["event"] == "api.relogin"]
    assert relogin["service"] == "salesforce" and relogin["flow"] == "username-password"
    assert org.state.password not in err and org.state.security_token not in err


def test_a_read_cut_short_by_the_api_limit_is_a_warning(
    org: RunningOrg, json_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """REQUEST_LIMIT_EXCEEDED: an `api.rate_limited` warning saying the read is partial."""
    org.state.request_limit = 0
    assert not org.connector().read_deals(QUERY).complete
    _, events = read_logs(capsys)
    (limited,) = [e for e in events if e["event"] == "api.rate_limited"]
    assert limited["level"] == "warning" and limited["partial"] is True
