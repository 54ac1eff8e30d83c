"""`crmsync serve` serves the console under /ui/ when a login for it is configured (and not otherwise),
over its own state database, where its runs are recorded as initiated by `serve`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from crmsync.app import build_service
from crmsync.cli.demo import sample_mappings
from crmsync.domain import Trigger
from crmsync.sandbox import Sandbox
from crmsync.sandbox.serve import serve_app
from crmsync.serving.runtime import ServeOptions, Service
from crmsync.settings import load_settings
from tests.e2e.conftest import crmsync_env, fast
from tests.ui.conftest import TOKENS, VIEW_TOKEN


@contextmanager
def serving(tmp_path: Path, ui: dict[str, str]) -> Iterator[tuple[httpx.Client, Service]]:
    """serve as `crmsync serve` builds it (worker not running), with these CRMSYNC_UI_* variables."""
    with Sandbox() as sb:
        env = {**crmsync_env(sb, f"sqlite:///{tmp_path}/state.db", sample_mappings()), **ui}
        service = build_service(fast(load_settings(env)), ServeOptions(port=0))
        try:
            with serve_app(service.app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
                yield client, service
        finally:
            service.resources.close()


def test_serve_has_no_console_unless_a_login_is_configured(tmp_path: Path) -> None:
    """Off by default: /ui is not there (serve binds wherever it is told, so it never runs open)."""
    with serving(tmp_path, {}) as (client, _):
        assert client.get("/ui/").status_code == 404 and client.get("/healthz").status_code == 200


def test_serve_serves_the_console_with_its_runs_by_serve(tmp_path: Path) -> None:
    """With CRMSYNC_UI_TOKEN, /ui/ asks for a login; after one, serve's own run shows as initiated by serve."""
    with serving(tmp_path, TOKENS) as (client, service):
        assert client.get("/ui/", follow_redirects=False).headers["location"] == "/ui/login?next=/"
        service.worker.reconcile(None, Trigger.SCHEDULE)
        assert client.post("/ui/login", data={"token": VIEW_TOKEN, "name": "vera"}).status_code == 303
        runs = client.get("/ui/runs").text
        assert "<td>serve</td>" in runs and "schedule" in runs
