"""Fixtures shared by the emulator tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crmsync.sandbox import HubSpotState, load_data
from crmsync.sandbox.hubspot import make_hubspot_app
from crmsync.sandbox.serve import ServedApp, serve_app


@pytest.fixture
def fresh() -> Iterator[tuple[HubSpotState, ServedApp]]:
    """A HubSpot emulator of its own, seeded with the sample, for tests that change its state."""
    state = HubSpotState()
    state.load(load_data().hubspot)
    with serve_app(make_hubspot_app(state)) as served:
        yield state, served
