"""The main flows (plan → apply → plan) across accounts shaped the way real ones differ.

Each variant of `crmsync.sandbox.variants` renames or reshapes the sample without changing what
its deals grant, so every variant must write exactly the sample's overrides, then plan nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crmsync.cli.demo import sample_mappings
from crmsync.connectors.base import DealQuery
from crmsync.connectors.hubspot import HubSpotConnector, HubSpotSettings
from crmsync.mapping.rules import DealFilter
from crmsync.sandbox import Sandbox
from crmsync.sandbox.variants import VARIANTS, varied_data, varied_mappings
from crmsync.settings import load_settings
from tests.e2e.conftest import Harness, crmsync_env, fast
from tests.e2e.scenarios import written_values as written

MANUAL_NOTE = "Granted by hand by support (ticket 4411)"
# What the sample's deals grant (tests/e2e/test_hubspot_sync.py states the same): the variants keep it.
SAMPLE_OVERRIDES = {
    ("comp_acme", "feat_seats"): ("numeric", 50, None, None, None),
    ("comp_acme", "feat_sso"): ("boolean", None, True, None, None),
    ("comp_acme", "feat_api_calls"): ("numeric", 500000, None, "current_month", "2027-12-31T23:59:59Z"),
    ("comp_initech", "feat_seats"): ("numeric", 250, None, None, None),
    ("comp_umbrella", "feat_sso"): ("boolean", None, True, None, None),
    ("comp_umbrella", "feat_api_calls"): ("numeric", 250000, None, "current_month", "2027-06-30T23:59:59Z"),
    ("comp_hooli", "feat_seats"): ("numeric", 75, None, None, None),
    ("comp_wayne", "feat_seats"): ("numeric", 120, None, None, None),
    ("comp_wayne", "feat_sso"): ("boolean", None, True, None, None),
    ("comp_wayne", "feat_api_calls"): ("numeric", 1000000, None, "current_month", "2027-09-30T23:59:59Z"),
}


def varied(name: str, tmp_path: Path) -> Iterator[Harness]:
    """A sandbox seeded with variant `name` and the sample mappings rewritten for it."""
    maps = varied_mappings(name, sample_mappings(), tmp_path / "mappings")
    with Sandbox(varied_data(name)) as sb:
        yield Harness(sb, fast(load_settings(crmsync_env(sb, f"sqlite:///{tmp_path}/state.db", maps))))


@pytest.fixture(params=sorted(VARIANTS))
def variant(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """Each variant in turn, by name."""
    yield from varied(request.param, tmp_path)


def test_each_variant_writes_the_sample_overrides_then_plans_nothing(variant: Harness) -> None:
    """plan → apply → plan: the sample's ten overrides, then an empty plan, the manual override untouched."""
    manual_before = [r for r in variant.sb.schematic.overrides.values() if r["notes"][0]["note"] == MANUAL_NOTE]
    _, report = variant.apply()
    assert report.ok and written(variant) == SAMPLE_OVERRIDES
    assert variant.plan().plan.is_empty
    assert [r for r in variant.sb.schematic.overrides.values() if r["notes"][0]["note"] == MANUAL_NOTE] == manual_before


def test_a_mixed_case_stage_reads_the_same_deals_as_the_lowercase_one(tmp_path: Path) -> None:
    """`stages: [ClosedWon, ENT_WON]` reads exactly the deals `[closedwon, ent_won]` reads, never none:
    HubSpot compares IN values against the lowercased stored value, so crmsync sends them lowercased."""
    with Sandbox() as sb:
        connector = HubSpotConnector(HubSpotSettings(sb.hubspot_url, sb.hubspot.access_token, searches_per_second=0))
        lower = connector.read_deals(DealQuery((DealFilter(("closedwon", "ent_won"), ("default", "enterprise")),), ()))
        mixed = connector.read_deals(DealQuery((DealFilter(("ClosedWon", "ENT_WON"), ("Default", "Enterprise")),), ()))
        connector.close()
    assert len(lower.deals) == 11 and [d.id for d in mixed.deals] == [d.id for d in lower.deals]


def test_plan_warnings_count_add_ons_and_say_why_companies_are_not_compared(tmp_path: Path) -> None:
    """With Acme's seats pack add-on (60 seats, SSO), its 50 seats are outvoted and SSO is a no-op;
    Hooli (no plan) and Umbrella (a plan without version) each get a line saying why they were not compared."""
    for h in varied("plans", tmp_path):
        warnings = [str(w) for w in h.plan().plan.warnings]
        assert any(
            w.startswith(
                "Acme Corp / Seats: the new override (50) is less generous than plan Starter + Seats pack's 60"
            )
            for w in warnings
        ), warnings
        assert (
            "Umbrella: overrides not compared with plan Legacy: the plan has no version in Schematic, "
            "so its entitlements cannot be read"
        ) in warnings
        # The add-on grants SSO, which Starter alone does not: Acme's SSO override is now a no-op.
        assert any(
            w.startswith("Acme Corp / SSO: the new override (on) grants the same as plan Starter + Seats pack's on")
            for w in warnings
        ), warnings
        assert "Hooli: overrides not compared with a plan: the company is on no plan in Schematic" in warnings
