"""Health, readiness, metrics, POST /reconcile, and the signed URI behind a proxy."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from crmsync.sandbox.serve import serve_app
from crmsync.settings import web_settings
from crmsync.store.intake import ALL_COMPANIES
from crmsync.web.app import make_app
from crmsync.web.config import WebSettings
from crmsync.web.webhooks import Ingress
from tests.serve.databases import intake_database
from tests.serve.signing import hubspot_headers
from tests.web.conftest import OPS_TOKEN, PORTAL, Served


def test_healthz_answers_ok(served: Served) -> None:
    """/healthz says the process is alive."""
    answer = served.client.get("/healthz")
    assert (answer.status_code, answer.text) == (200, "ok")


def test_readyz_needs_a_recent_api_success(served: Served) -> None:
    """/readyz is 503 until an outside API has answered, then 200 (the database answers too)."""
    assert served.client.get("/readyz").status_code == 503
    served.tracker.succeeded("schematic")
    answer = served.client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json()["ready"] is True


def test_metrics_are_served_without_a_redirect(served: Served) -> None:
    """/metrics answers 200 itself (no 307 to /metrics/) with the intake depth and the latency histogram."""
    served.client.post("/reconcile", headers={"authorization": f"Bearer {OPS_TOKEN}"})
    answer = served.client.get("/metrics", follow_redirects=False)
    assert answer.status_code == 200
    text = answer.text
    assert 'crmsync_intake_pending{queue="companies"} 1.0' in text
    assert "crmsync_intake_oldest_pending_age_seconds" in text
    assert "crmsync_webhook_to_applied_seconds_bucket" in text
    assert "crmsync_runs_total" in text or "# TYPE crmsync_runs counter" in text


def test_reconcile_needs_the_ops_token(served: Served) -> None:
    """Without the bearer token (or with a wrong one) nothing is queued."""
    assert served.client.post("/reconcile").status_code == 401
    assert served.client.post("/reconcile", headers={"authorization": "Bearer nope"}).status_code == 401
    assert served.intake.depth().companies == 0


def test_reconcile_queues_the_named_companies(served: Served) -> None:
    """A body naming companies queues one reconcile per company and wakes the worker."""
    body = json.dumps({"companies": ["comp_b", "comp_a", "comp_a"]})
    answer = served.client.post("/reconcile", content=body, headers={"authorization": f"Bearer {OPS_TOKEN}"})
    assert answer.status_code == 202
    assert answer.json() == {"queued": ["comp_a", "comp_b"]}
    assert sorted(w.company_id for w in served.intake.claim_companies("t", 10, 30)) == ["comp_a", "comp_b"]
    assert served.woken.is_set()


def test_reconcile_without_a_body_queues_a_full_run(served: Served) -> None:
    """No body means every company: one full-run work item."""
    served.client.post("/reconcile", headers={"authorization": f"Bearer {OPS_TOKEN}"})
    assert [w.company_id for w in served.intake.claim_companies("t", 10, 30)] == [ALL_COMPANIES]


def test_reconcile_refuses_a_malformed_body(served: Served) -> None:
    """A body that is not {"companies": [ids]} is answered 400."""
    headers = {"authorization": f"Bearer {OPS_TOKEN}"}
    assert served.client.post("/reconcile", content=b"[", headers=headers).status_code == 400
    assert served.client.post("/reconcile", content=b'{"companies": [1]}', headers=headers).status_code == 400


def test_hubspot_signs_the_public_url_with_its_escapes_decoded(tmp_path: Path) -> None:
    """Behind a proxy the signed URI is CRMSYNC_PUBLIC_URL + path + query, with %3A etc. decoded."""
    settings = web_settings(
        {
            "HUBSPOT_CLIENT_SECRET": "s3cret",
            "HUBSPOT_PORTAL_ID": PORTAL,
            "CRMSYNC_PUBLIC_URL": "https://sync.example.com/",
        }
    )
    body = json.dumps(
        [{"subscriptionType": "deal.creation", "objectId": 1, "portalId": int(PORTAL), "eventId": 1}]
    ).encode()
    signed_as = "https://sync.example.com/webhooks/hubspot?tag=a:b"  # what HubSpot hashes
    with intake_database("sqlite", tmp_path) as (_store, intake):
        app = make_app(Ingress(intake, settings))
        with serve_app(app) as server, httpx.Client(base_url=server.url) as client:
            answer = client.post(
                "/webhooks/hubspot?tag=a%3Ab", content=body, headers=hubspot_headers("s3cret", signed_as, body)
            )
            assert answer.status_code == 200, answer.text
            assert intake.depth().events == 1


def test_an_endpoint_without_its_secret_is_off(tmp_path: Path) -> None:
    """With no HUBSPOT_CLIENT_SECRET the HubSpot endpoint answers 404 and stores nothing."""
    with intake_database("sqlite", tmp_path) as (_store, intake):
        app = make_app(Ingress(intake, WebSettings()))
        with serve_app(app) as server, httpx.Client(base_url=server.url) as client:
            assert client.post("/webhooks/hubspot", content=b"[]").status_code == 404
            assert intake.depth().events == 0
