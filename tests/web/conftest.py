"""A served web app on loopback (real uvicorn) over a fresh SQLite state database, with test secrets."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from crmsync.metrics import SuccessTracker
from crmsync.sandbox.serve import serve_app
from crmsync.store.intake import IntakeStore
from crmsync.web.app import make_app
from crmsync.web.config import WebSettings
from crmsync.web.webhooks import Ingress
from tests.serve.databases import intake_database

HUBSPOT_SECRET = "hs-client-secret-for-tests"
SCHEMATIC_SECRET = "whsec-for-tests"
OPS_TOKEN = "ops-token-for-tests"
PORTAL = "62515"
ORG = "00D000000000001AAA"


@dataclass
class Served:
    """The running app, its intake and the wake-ups it sent."""

    url: str
    intake: IntakeStore
    tracker: SuccessTracker
    woken: threading.Event
    client: httpx.Client

    def stored(self) -> int:
        """Hints stored and not yet processed."""
        return self.intake.depth().events


SETTINGS = WebSettings(
    hubspot_client_secret=HUBSPOT_SECRET,
    hubspot_portal_id=PORTAL,
    salesforce_organization_id=ORG,
    schematic_webhook_secret=SCHEMATIC_SECRET,
    ops_token=OPS_TOKEN,
)


@contextmanager
def serving(tmp_path: Path, settings: WebSettings = SETTINGS) -> Iterator[Served]:
    """The app with `settings` (default: every endpoint configured) on a fresh SQLite database."""
    woken = threading.Event()
    tracker = SuccessTracker()
    with intake_database("sqlite", tmp_path) as (_store, intake):
        app = make_app(Ingress(intake, settings, wake=woken.set), tracker)
        with serve_app(app) as server, httpx.Client(base_url=server.url, timeout=10) as client:
            yield Served(server.url, intake, tracker, woken, client)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """The app with every endpoint configured, on a fresh SQLite database."""
    with serving(tmp_path) as running:
        yield running
