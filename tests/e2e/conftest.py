"""Fixtures for end-to-end runs: a fresh sandbox, settings pointing at it, and helpers to
plan and apply through the real service (real SDKs over loopback sockets)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from crmsync.app import mapped_context
from crmsync.cli.demo import sample_mappings
from crmsync.domain import Trigger
from crmsync.sandbox import Sandbox
from crmsync.service.apply import ApplyReport
from crmsync.service.context import PlanRun
from crmsync.service.reconcile import Mode, Outcome, Request, reconcile
from crmsync.settings import Settings, load_settings

NOW = "2026-11-21T12:00:00Z"  # the sample's contracts end in 2027: judge them on a fixed day


@dataclass
class Harness:
    """A sandbox plus settings, with plan/apply helpers."""

    sb: Sandbox
    settings: Settings

    def reconcile(self, request: Request, mappings: Path | None = None) -> Outcome:
        """The one reconcile use case, as every entry point calls it."""
        with mapped_context(mappings, self.settings) as (ctx, maps):
            return reconcile(ctx, maps, request)

    def plan(self, mappings: Path | None = None) -> PlanRun:
        run = self.reconcile(Request(Trigger.MANUAL, Mode.PLAN), mappings).run
        assert run is not None
        return run

    def apply(self, mappings: Path | None = None) -> tuple[PlanRun, ApplyReport]:
        outcome = self.reconcile(Request(Trigger.MANUAL, Mode.APPLY), mappings)
        assert outcome.run is not None, outcome
        return outcome.run, outcome.report or ApplyReport()

    def env(self) -> dict[str, str]:
        """The environment `crmsync …` reads to run like this harness."""
        return crmsync_env(self.sb, self.settings.database_url, self.settings.mappings)


def crmsync_env(sb: Sandbox, database_url: str, mappings: Path) -> dict[str, str]:
    """The environment pointing crmsync at the sandbox, a state database and mappings, on a fixed day."""
    return {**sb.env(), "CRMSYNC_DATABASE_URL": database_url, "CRMSYNC_MAPPINGS": str(mappings), "CRMSYNC_NOW": NOW}


def fast(settings: Settings) -> Settings:
    """No pacing and short backoffs: the sandbox has no rate limit unless a test sets one."""
    unpaced = settings.unpaced()
    return replace(unpaced, hubspot=replace(unpaced.hubspot, backoff=0.01))


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    """A fresh sample sandbox and an empty SQLite state database."""
    with Sandbox() as sb:
        yield Harness(sb, fast(load_settings(crmsync_env(sb, f"sqlite:///{tmp_path}/state.db", sample_mappings()))))
