"""Fixtures for the console: the sample sandbox after a real apply (by alice) and a plan, and the
console served by uvicorn on a loopback port over that state database, with a chosen login setup.
Clients are httpx over real sockets; the browser tests (test_browser.py) drive Chromium at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest

from crmsync.app import build_console
from crmsync.cli.demo import sample_mappings
from crmsync.domain import Trigger
from crmsync.sandbox import Sandbox
from crmsync.sandbox.serve import serve_app
from crmsync.service.console_reads import ConsoleData, open_console_data
from crmsync.service.reconcile import Mode, Request
from crmsync.settings import Settings, load_settings
from crmsync.web.console.build import standalone
from tests.e2e.conftest import Harness, crmsync_env, fast

VIEW_TOKEN, OPERATOR_TOKEN = "view-token-7f3a", "operator-token-91c2"
TOKENS = {"CRMSYNC_UI_TOKEN": VIEW_TOKEN, "CRMSYNC_UI_OPERATOR_TOKEN": OPERATOR_TOKEN}
PROXY = {"CRMSYNC_UI_USER_HEADER": "X-Forwarded-User", "CRMSYNC_UI_TRUSTED_PROXIES": "127.0.0.1",
         "CRMSYNC_UI_OPERATORS": "olga"}  # fmt: skip


@dataclass
class World:
    """The sandbox, the settings of its runs, the console's reads, and a way to serve a console."""

    sb: Sandbox
    env: dict[str, str]
    data: ConsoleData
    serve: Callable[[dict[str, str]], str]  # UI variables → the console's base URL (…/ui)

    def settings(self, ui: dict[str, str] | None = None) -> Settings:
        """Settings of this world with these CRMSYNC_UI_* variables."""
        return fast(load_settings({**self.env, **(ui or {})}))


def make_world(tmp: Path) -> Iterator[World]:
    """The sample after alice's apply and a plan (a conflict and a pending company stay open)."""
    with Sandbox() as sb, ExitStack() as stack:
        env = {**crmsync_env(sb, f"sqlite:///{tmp}/state.db", sample_mappings()), "CRMSYNC_ACTOR": "alice",
               "HUBSPOT_PORTAL_ID": "62515"}  # fmt: skip
        harness = Harness(sb, fast(load_settings(env)))
        harness.reconcile(Request(Trigger.MANUAL, Mode.APPLY))
        harness.reconcile(Request(Trigger.MANUAL, Mode.PLAN))
        data = open_console_data(harness.settings.database_url)
        stack.callback(data.store.close)

        def serve(ui: dict[str, str]) -> str:
            settings = fast(load_settings({**env, **ui}))
            console = build_console(settings, settings.mappings, data)
            served = stack.enter_context(serve_app(standalone(console)))
            return f"{served.url}/ui"

        yield World(sb, env, data, serve)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One seeded world per test module (tests that act get their own module)."""
    yield from make_world(tmp_path_factory.mktemp("console"))


@contextmanager
def login(base: str, token: str, name: str = "") -> Iterator[httpx.Client]:
    """A client logged in with `token` (as `name`), closed on exit."""
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as client:
        answer = client.post("/login", data={"token": token, "name": name, "next": "/"})
        assert answer.status_code == 303, answer.text
        yield client


@pytest.fixture(scope="module")
def token_base(world: World) -> str:
    """The console with viewer and operator tokens."""
    return world.serve(TOKENS)


@pytest.fixture
def viewer(token_base: str) -> Iterator[httpx.Client]:
    """A client logged in with the viewer token."""
    with login(token_base, VIEW_TOKEN, "vera") as client:
        yield client


@pytest.fixture
def operator(token_base: str) -> Iterator[httpx.Client]:
    """A client logged in with the operator token."""
    with login(token_base, OPERATOR_TOKEN, "otto") as client:
        yield client


__all__ = ["OPERATOR_TOKEN", "PROXY", "TOKENS", "VIEW_TOKEN", "World", "login", "replace"]
