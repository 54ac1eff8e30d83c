"""The commands pace Schematic writes and HubSpot searches through the state database, so that the
rates hold across processes (the arithmetic and the cross-process bound: tests/store/test_budget.py)."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from tests.e2e.conftest import Harness
from tests.e2e.scenarios import invoke


def test_apply_keeps_its_rate_buckets_in_the_state_database(harness: Harness) -> None:
    """After `crmsync apply --yes`, the state database holds the Schematic write and HubSpot search buckets."""
    assert invoke(harness, "apply", "--yes").exit_code == 0
    engine = create_engine(harness.settings.database_url)
    try:
        with engine.connect() as conn:
            names = conn.execute(text("SELECT name FROM rate_buckets ORDER BY name")).scalars().all()
    finally:
        engine.dispose()
    assert names == ["hubspot.search", "schematic.writes"]
