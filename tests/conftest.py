"""Fixtures shared across test folders."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.salesforce_fixtures import EmulatorServer, emulator_server


@pytest.fixture(scope="module")
def salesforce_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    """A Salesforce emulator over TLS, one per test module (each test swaps in a fresh org)."""
    with emulator_server(tmp_path_factory.mktemp("salesforce")) as running:
        yield running
