"""A whole ingress stack on the sandbox: emulators, and the real `crmsync serve` service built by app.py
(`build_service`: web app, intake worker, jobs, watcher, tracker), its reconcile calls recorded."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from crmsync.app import build_service
from crmsync.cli.demo import sample_mappings
from crmsync.domain import CompanyId, Trigger
from crmsync.sandbox import Sandbox
from crmsync.sandbox.serve import serve_app
from crmsync.service.reconcile import Outcome
from crmsync.serving.runtime import ServeOptions, Service
from crmsync.serving.worker import IntakeWorker, wait_idle
from crmsync.settings import load_settings
from crmsync.store.intake import IntakeStore
from crmsync.store.repository import Store
from tests.e2e.conftest import crmsync_env, fast

HUBSPOT_SECRET = "hs-client-secret-for-tests"
SCHEMATIC_SECRET = "whsec-for-tests"
ORG = "00D000000000001AAA"


@dataclass
class Stack:
    """Sandbox + the served service; `calls` lists each reconcile's (scope, trigger)."""

    sb: Sandbox
    url: str
    client: httpx.Client
    service: Service
    calls: list[tuple[frozenset[CompanyId] | None, Trigger]] = field(default_factory=list)

    @property
    def intake(self) -> IntakeStore:
        """The service's intake (hints and queued companies)."""
        return self.service.intake

    @property
    def worker(self) -> IntakeWorker:
        """The service's intake worker."""
        return self.service.worker

    @property
    def store(self) -> Store:
        """The service's state store."""
        return self.service.context.store

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


def served(tmp_path: Path, *, running: bool) -> Iterator[Stack]:
    """The sample sandbox, an empty SQLite state database and the service built as `crmsync serve` builds
    it, served on loopback; `running`: with its lifespan (worker thread and scheduled jobs) started."""
    with Sandbox() as sb:
        env = crmsync_env(sb, f"sqlite:///{tmp_path}/state.db", sample_mappings())
        env |= {"HUBSPOT_CLIENT_SECRET": HUBSPOT_SECRET, "SALESFORCE_ORGANIZATION_ID": ORG,
                "SCHEMATIC_WEBHOOK_SECRET": SCHEMATIC_SECRET}  # fmt: skip
        service = build_service(fast(load_settings(env)), ServeOptions(port=0))
        calls: list[tuple[frozenset[CompanyId] | None, Trigger]] = []
        real = service.worker.reconcile

        def recorded(scope: frozenset[CompanyId] | None, trigger: Trigger) -> Outcome:
            calls.append((scope, trigger))
            return real(scope, trigger)

        service.worker.reconcile = recorded
        try:
            with (
                serve_app(service.app, lifespan=running) as server,
                httpx.Client(base_url=server.url, timeout=10) as client,
            ):
                stack = Stack(sb, server.url, client, service, calls)
                if running:
                    caught_up(stack)
                yield stack
        finally:
            service.resources.close()  # the lifespan closed them when it ran; closing twice is a no-op


def caught_up(stack: Stack, timeout: float = 60) -> None:
    """Wait for the full reconcile serve runs at start, then forget its call (tests count their own)."""
    deadline = time.monotonic() + timeout
    while (None, Trigger.SCHEDULE) not in stack.calls:
        assert time.monotonic() < deadline, "serve's start-up resync never ran"
        time.sleep(0.02)
    assert wait_idle(stack.intake, timeout=timeout)
    stack.calls.clear()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """The served service with its worker not running: a test drives it pass by pass (`drain`)."""
    yield from served(tmp_path, running=False)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Stack]:
    """The served service running as `crmsync serve` runs it (worker thread, scheduler), caught up with its
    start-up resync; stopped at the end, the reconcile in flight finished."""
    yield from served(tmp_path, running=True)
