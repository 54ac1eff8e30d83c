"""The console's security rules as pure functions: the cross-site check, session cookies (expiry,
tampering, key rotation), the wrong-login slow-down, roles, CSV defusing and unsafe configurations."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmsync.app import build_console
from crmsync.errors import ConfigError
from crmsync.service.console_reads import ConsoleData
from crmsync.settings import UiSettings, load_settings
from crmsync.web.console.auth import LOGIN_LOCK_AFTER, Sessions, Throttle, token_role
from crmsync.web.console.permissions import Action, Actor, Forbidden, Role, ensure
from crmsync.web.console.security import cross_site
from crmsync.web.console.views.ledger import _line


def scope(method: str, **headers: str) -> dict[str, object]:
    """An ASGI scope of a request to http://console:8090 with these headers."""
    raw = [(k.replace("_", "-").encode(), v.encode()) for k, v in {"host": "console:8090", **headers}.items()]
    return {"type": "http", "method": method, "scheme": "http", "headers": raw}


@pytest.mark.parametrize(
    ("method", "headers", "refused"),
    [
        ("GET", {"sec_fetch_site": "cross-site"}, False),
        ("POST", {"sec_fetch_site": "cross-site"}, True),
        ("POST", {"sec_fetch_site": "same-site"}, True),
        ("POST", {"sec_fetch_site": "same-origin", "origin": "https://evil.example"}, False),
        ("POST", {"sec_fetch_site": "none"}, False),
        ("POST", {"origin": "http://console:8090"}, False),
        ("POST", {"origin": "http://console:9999"}, True),
        ("POST", {"origin": "https://console:8090"}, True),
        ("POST", {}, False),
    ],
    ids=[
        "get-passes",
        "cross-site",
        "same-site",
        "fetch-site-wins",
        "typed-url",
        "same-origin",
        "other-port",
        "other-scheme",
        "no-browser-headers",
    ],
)
def test_the_cross_site_check_follows_fetch_metadata_then_origin(
    method: str, headers: dict[str, str], refused: bool
) -> None:
    """Sec-Fetch-Site decides when present; else Origin must be the console's own; else it is no browser."""
    assert cross_site(scope(method, **headers)) is refused


def test_a_session_expires_and_survives_key_rotation() -> None:
    """A cookie signed with the old key still reads after rotation (newest last); an expired one does not."""
    actor = Actor("vera", Role.VIEWER, "token")
    old = Sessions(["k1"], max_age=3600).issue(actor)
    assert Sessions(["k1", "k2"], max_age=3600).read(old) == actor
    assert Sessions(["k2"], max_age=3600).read(old) is None
    assert Sessions(["k1"], max_age=-1).read(old) is None  # expired (checked on the server)


def test_a_token_grants_its_role_only() -> None:
    """The operator token makes an operator, the viewer token a viewer, anything else nothing."""
    ui = UiSettings(token="v-token", operator_token="o-token")
    assert token_role(ui, "o-token") is Role.OPERATOR and token_role(ui, "v-token") is Role.VIEWER
    assert token_role(ui, "") is None and token_role(ui, "o-token ") is None


def test_wrong_logins_wait_longer_each_time_then_are_refused() -> None:
    """Each wrong login from an address doubles the wait (capped); too many within the window lock it out."""
    throttle = Throttle()
    waits = []
    for i in range(LOGIN_LOCK_AFTER):
        waits.append(throttle.delay("10.0.0.1", now=float(i)))
        throttle.failed("10.0.0.1", now=float(i))
    assert waits[0] == 0 and waits[1] < waits[2] < waits[3] and max(waits) <= 8
    assert throttle.delay("10.0.0.1", now=30.0) is None and throttle.delay("10.0.0.2", now=30.0) == 0
    assert throttle.delay("10.0.0.1", now=10_000.0) == 0  # the window passed


def test_a_viewer_may_read_and_export_but_not_act() -> None:
    """Default deny: the viewer's actions are the read ones; nobody (no actor) may do anything."""
    viewer = Actor("vera", Role.VIEWER, "token")
    assert ensure(viewer, Action.EXPORT) is viewer
    for action in (Action.ADOPT, Action.RELEASE, Action.RECONCILE, Action.APPROVE):
        with pytest.raises(Forbidden):
            ensure(viewer, action)
    with pytest.raises(Forbidden):
        ensure(None, Action.VIEW)


def test_csv_cells_cannot_become_spreadsheet_formulas() -> None:
    """A cell starting with = + - @ is prefixed with a quote."""
    assert _line(("=HYPERLINK(1)", "-5", "@x", "plain")) == "'=HYPERLINK(1),'-5,'@x,plain\r\n"


def test_an_open_console_is_refused_off_loopback(tmp_path: Path) -> None:
    """Without a login configured the console runs on loopback only; a header needs trusted proxies."""
    data = ConsoleData.__new__(ConsoleData)  # never read: the configuration is refused first
    settings = load_settings({"HOME": str(tmp_path)})
    with pytest.raises(ConfigError, match="CRMSYNC_UI_TOKEN"):
        build_console(settings, tmp_path, data, host="0.0.0.0")
    header_only = load_settings({"HOME": str(tmp_path), "CRMSYNC_UI_USER_HEADER": "X-User"})
    with pytest.raises(ConfigError, match="CRMSYNC_UI_TRUSTED_PROXIES"):
        build_console(header_only, tmp_path, data)


def test_crmsync_ui_off_loopback_without_a_login_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """`crmsync ui --host 0.0.0.0` with no login configured says what to set, exit 2, no state database made."""
    from typer.testing import CliRunner

    from crmsync.cli import app

    database = tmp_path / "state.db"
    result = CliRunner().invoke(app, ["ui", "--host", "0.0.0.0"], env={"CRMSYNC_DATABASE_URL": f"sqlite:///{database}",
                                                                    "CRMSYNC_UI_TOKEN": ""})  # fmt: skip
    assert result.exit_code == 2 and "CRMSYNC_UI_TOKEN" in result.output and "Traceback" not in result.output
    assert not database.exists()


def test_untrusted_proxy_addresses_are_a_configuration_error(tmp_path: Path) -> None:
    """A proxy list entry that is not an address or network is refused at start, naming the variable."""
    settings = load_settings({"HOME": str(tmp_path), "CRMSYNC_UI_USER_HEADER": "X-User",
                              "CRMSYNC_UI_TRUSTED_PROXIES": "proxy.internal"})  # fmt: skip
    with pytest.raises(ConfigError, match="CRMSYNC_UI_TRUSTED_PROXIES"):
        build_console(settings, tmp_path, ConsoleData.__new__(ConsoleData))
