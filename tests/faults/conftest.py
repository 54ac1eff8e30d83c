"""The end-to-end harness fixture, shared with tests/e2e."""

from tests.e2e.conftest import harness  # noqa: F401 - a fixture, used by name
