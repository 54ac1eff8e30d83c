"""Hostile bodies over real HTTP: deep JSON nesting, a forged flood of Outbound Message notifications,
token guessing on POST /reconcile, and a too-short ops token at start."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import pytest

from crmsync.errors import ConfigError
from crmsync.settings import load_settings
from crmsync.web.config import checked
from crmsync.web.limits import Throttle, json_depth
from tests.serve.signing import hubspot_headers, outbound_message, schematic_headers
from tests.web.conftest import HUBSPOT_SECRET, OPS_TOKEN, ORG, SCHEMATIC_SECRET, SETTINGS, Served, serving

NESTED = b"[" * 100_000  # a RecursionError and a 500 in json.loads before the depth limit


def _headers(served: Served, path: str, body: bytes) -> dict[str, str]:
    """The headers that get `body` past the endpoint's authentication (signed, or the ops token)."""
    if path == "/webhooks/hubspot":
        return hubspot_headers(HUBSPOT_SECRET, served.url + path, body)
    if path == "/webhooks/schematic":
        return schematic_headers(SCHEMATIC_SECRET, body)
    if path == "/reconcile":
        return {"authorization": f"Bearer {OPS_TOKEN}"}
    return {"content-type": "text/xml"}


@pytest.mark.parametrize(
    "path", ["/webhooks/hubspot", "/webhooks/schematic", "/reconcile", "/webhooks/salesforce"],
    ids=["hubspot", "schematic", "reconcile", "salesforce"],
)  # fmt: skip
def test_deeply_nested_json_is_a_400_and_one_log_line(
    served: Served, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    """100,000 `[` (authenticated) is answered 400 with one warning, no traceback, and nothing stored."""
    with caplog.at_level(logging.INFO):
        answer = served.client.post(path, content=NESTED, headers=_headers(served, path, NESTED))
    assert answer.status_code == 400, answer.text
    lines = [r for r in caplog.records if r.name.startswith(("crmsync", "uvicorn")) and r.levelno >= logging.WARNING]
    assert len(lines) == 1 and lines[0].exc_info is None  # besides the access log's line for the request
    assert served.stored() == 0 and served.intake.depth().companies == 0


def test_json_depth_ignores_brackets_inside_strings() -> None:
    """Nesting counts arrays and objects, not bracket characters inside (escaped) strings."""
    assert json_depth(b'[1, "[[[\\"[", {"a": [2]}]') == 3
    assert json_depth(b'"x"') == 0
    assert json_depth(NESTED) == 100_000


def test_json_nested_just_within_the_limit_is_parsed(served: Served) -> None:
    """A /reconcile body nested to the limit is read as usual (the limit refuses nothing a vendor sends)."""
    body = json.dumps({"companies": ["comp_1"], "x": json.loads("[" * 30 + "]" * 30)}).encode()
    answer = served.client.post("/reconcile", content=body, headers=_headers(served, "/reconcile", body))
    assert answer.status_code == 202


def _notifications(count: int, start: int = 0) -> list[tuple[str, str, str | None]]:
    return [(f"04l{n:015d}", f"006{n:015d}", "001000000000001AAA") for n in range(start, start + count)]


def test_a_forged_message_of_2500_notifications_stores_nothing(served: Served) -> None:
    """An Outbound Message past Salesforce's 100 notifications is refused whole with 400: no hint, no lookup."""
    body = outbound_message(ORG, _notifications(2500))
    answer = served.client.post("/webhooks/salesforce", content=body, headers={"content-type": "text/xml"})
    assert answer.status_code == 400
    assert "2500 notifications" in answer.json()["error"]
    assert served.stored() == 0


def test_notifications_past_the_org_budget_are_429(tmp_path: Path) -> None:
    """Per org a minute holds `notifications_per_minute`: the message past it is 429 (Salesforce retries)."""
    settings = replace(SETTINGS, notifications_per_minute=250.0)
    with serving(tmp_path, settings) as served:
        answers = [
            served.client.post(
                "/webhooks/salesforce",
                content=outbound_message(ORG, _notifications(100, start=100 * n)),
                headers={"content-type": "text/xml"},
            )
            for n in range(3)
        ]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert answers[2].headers["retry-after"]
        assert served.stored() == 200


def test_wrong_tokens_lock_the_address_out_of_reconcile(tmp_path: Path) -> None:
    """After `failed_tokens_per_minute` wrong tokens, even the right one is answered 429 and nothing queued."""
    with serving(tmp_path, replace(SETTINGS, failed_tokens_per_minute=3.0)) as served:
        wrong = [served.client.post("/reconcile", headers={"authorization": f"Bearer guess{n}"}) for n in range(3)]
        assert [a.status_code for a in wrong] == [401, 401, 401]
        right = served.client.post("/reconcile", headers={"authorization": f"Bearer {OPS_TOKEN}"})
        assert right.status_code == 429
        assert served.intake.depth().companies == 0


def test_a_short_ops_token_is_refused_at_start() -> None:
    """CRMSYNC_OPS_TOKEN under 24 characters is a ConfigError (exit 2) naming the variable, not the value."""
    with pytest.raises(ConfigError, match="CRMSYNC_OPS_TOKEN is 6 characters") as caught:
        checked(load_settings({"CRMSYNC_OPS_TOKEN": "abc123"}).web)
    assert "abc123" not in str(caught.value)
    assert checked(load_settings({"CRMSYNC_OPS_TOKEN": "x" * 24}).web).ops_token == "x" * 24


def test_a_flood_of_refusals_is_one_line_per_interval() -> None:
    """The serve log throttle lets one line per condition through per interval, then reports how many it held."""
    now = [0.0]
    throttle = Throttle(60.0, clock=lambda: now[0])

    def record(condition: str) -> logging.LogRecord:
        rec = logging.LogRecord("crmsync.web", logging.WARNING, __file__, 1, "refused %s", ("x",), None)
        rec.condition = condition
        return rec

    passed = [throttle.filter(record("hubspot:401")) for _ in range(500)]
    assert passed.count(True) == 1
    assert throttle.filter(record("salesforce:400"))  # another condition has its own line
    now[0] = 61.0
    later = record("hubspot:401")
    assert throttle.filter(later) and "499 more like this" in str(later.msg)
