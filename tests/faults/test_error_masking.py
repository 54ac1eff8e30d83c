"""A Schematic error body that echoes a secret is masked when the error is made, not only when it is
printed: the exception's str, args and detail never hold the raw value, whatever path it takes next."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crmsync import redaction
from crmsync.errors import AuthError, RequestRejected, ServiceError, ServiceUnavailable
from crmsync.sandbox.faults import Mode
from tests.e2e.conftest import Harness
from tests.faults import clients

OTHER_SECRET = "hs-token-5f0c9a7e21"  # a secret of another service, configured to be masked


@pytest.fixture
def masked_too() -> Iterator[str]:
    """OTHER_SECRET among the configured secrets for one test (the former list is restored)."""
    before = redaction.configured()
    redaction.configure([*before, OTHER_SECRET])
    yield OTHER_SECRET
    redaction.configure(before)


def texts(error: BaseException) -> list[str]:
    """Every text an exception carries that a log, a run record or a renderer may take."""
    return [str(error), repr(error), *(str(a) for a in error.args), getattr(error, "detail", "")]


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, AuthError), (422, RequestRejected), (500, ServiceUnavailable)],
    ids=["401-key-rejected", "422-rejected", "500-after-retries"],
)
def test_a_secret_echoed_in_an_error_body_is_masked_in_the_exception(
    harness: Harness, masked_too: str, status: int, kind: type[ServiceError]
) -> None:
    """The API key and a configured secret in the vendor's error message are `***` in the exception."""
    key = harness.sb.schematic.api_key
    message = f"key {key} is not valid here (also saw {masked_too})"
    harness.sb.faults.schematic.add(Mode.ERROR_BEFORE, method="GET", path="/features", status=status, message=message)
    with clients.schematic(harness, attempts=1) as client, pytest.raises(kind) as caught:
        client.list_features()
    for text in texts(caught.value):
        assert key not in text and masked_too not in text
    assert "key *** is not valid here (also saw ***)" in str(caught.value)
