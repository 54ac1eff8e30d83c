"""An outside API's error names the likely cause: a 5xx is the service's side, 401/403 the credential
variable, a connection error the URL variable."""

from __future__ import annotations

from crmsync.errors import AuthError, ServiceUnavailable, ServiceUnreachable


def test_a_5xx_points_at_the_service_not_the_url_variable() -> None:
    """A 503 after retries does not send on-call to SCHEMATIC_API_URL, which answered."""
    text = str(ServiceUnavailable("Schematic", "GET /features answered 503", setting="SCHEMATIC_API_URL", status=503))
    assert "SCHEMATIC_API_URL" not in text and "on its side" in text


def test_a_rejected_credential_names_its_variable() -> None:
    """A 401 names the key variable to fix."""
    text = str(AuthError("Schematic", "rejected the API key (401: no)", setting="SCHEMATIC_API_KEY", status=401))
    assert text.endswith("(check SCHEMATIC_API_KEY)")


def test_a_connection_error_names_the_url_variable() -> None:
    """No answer at all: the URL variable is where to look."""
    text = str(ServiceUnreachable("Schematic", "cannot connect to http://127.0.0.1:9", setting="SCHEMATIC_API_URL"))
    assert text.endswith("(check SCHEMATIC_API_URL)")
