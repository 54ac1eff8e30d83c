"""A whole ingress stack on the sandbox: emulators, the served web app, the intake worker with the real
connectors and Schematic client, and a reconcile that records its calls around the real one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from crmsync.app import mapped_context
from crmsync.cli.demo import sample_mappings
from crmsync.domain import CompanyId
from crmsync.metrics import SuccessTracker
from crmsync.sandbox import Sandbox
from crmsync.sandbox.serve import serve_app
from crmsync.serving.resolve import Resolver
from crmsync.serving.runs import reconcile_scope
from crmsync.serving.worker import IntakeWorker, WorkerSettings
from crmsync.settings import load_settings
from crmsync.store.intake import IntakeStore
from crmsync.store.repository import Store
from crmsync.web.app import make_app
from crmsync.web.config import WebSettings
from crmsync.web.webhooks import Intake
from tests.e2e.conftest import crmsync_env, fast

HUBSPOT_SECRET = "hs-client-secret-for-tests"
SCHEMATIC_SECRET = "whsec-for-tests"
ORG = "00D000000000001AAA"


@dataclass
class Stack:
    """Sandbox + web app + worker; `calls` lists each reconcile's (scope, trigger)."""

    sb: Sandbox
    url: str
    client: httpx.Client
    intake: IntakeStore
    worker: IntakeWorker
    store: Store
    calls: list[tuple[frozenset[CompanyId] | None, str]] = field(default_factory=list)

    def drain(self, passes: int = 10) -> None:
        """Run worker passes until one finds nothing to do."""
        for _ in range(passes):
            if not self.worker.run_once():
                return
        raise AssertionError(f"the worker still had work after {passes} passes")

    def overrides(self, company: str) -> dict[str, dict[str, Any]]:
        """The company's live overrides in the Schematic sandbox, by feature id."""
        return {o["feature_id"]: o for o in self.sb.schematic.overrides.values() if o["company_id"] == company}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """The sandbox with the sample data, for a test of its own."""
    with Sandbox() as sb:
        yield sb


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """The sample sandbox, an empty SQLite state database, the app and a worker (not yet running)."""
    with Sandbox() as sb:
        env = crmsync_env(sb, f"sqlite:///{tmp_path}/state.db", sample_mappings())
        settings = fast(load_settings(env))
        with mapped_context(settings.mappings, settings) as (ctx, maps):
            intake = IntakeStore(ctx.store.engine)
            tracker = SuccessTracker()
            real = reconcile_scope(ctx, lambda: maps, tracker)
            calls: list[tuple[frozenset[CompanyId] | None, str]] = []

            def recorded(scope: frozenset[CompanyId] | None, trigger: str) -> object:
                calls.append((scope, trigger))
                return real(scope, trigger)

            resolver = Resolver(ctx.connectors, ctx.schematic, intake, lambda: maps, tracker)
            worker = IntakeWorker(intake, resolver, recorded, WorkerSettings(poll=0.05))
            web = WebSettings(hubspot_client_secret=HUBSPOT_SECRET, salesforce_organization_id=ORG,
                              schematic_webhook_secret=SCHEMATIC_SECRET)  # fmt: skip
            app = make_app(Intake(intake, web, wake=worker.wake), tracker)
            with serve_app(app) as server, httpx.Client(base_url=server.url, timeout=10) as client:
                yield Stack(sb, server.url, client, intake, worker, ctx.store, calls)


@pytest.fixture
def running(stack: Stack) -> Iterator[Stack]:
    """The stack with its worker running in a thread (stopped, in-flight run finished, at the end)."""
    stop = threading.Event()
    thread = threading.Thread(target=stack.worker.run, args=(stop,), daemon=True)
    thread.start()
    yield stack
    stop.set()
    stack.worker.wake()
    thread.join(timeout=30)
