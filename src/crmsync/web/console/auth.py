"""The console's identities: a login token → a signed session cookie, a user header believed only
from trusted proxies (SSO, e.g. oauth2-proxy), or — for a loopback `crmsync ui` with neither
configured — the person at the machine. Also the slow-down of repeated wrong logins.

Cookies are itsdangerous-signed with one salt per purpose and a key list (newest last) for rotation;
the expiry is checked on the server. A cookie holds the actor's name, role and issue time: no secret.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from dataclasses import dataclass, field

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request

from crmsync.logs import get_logger
from crmsync.settings import UiSettings
from crmsync.web.console.permissions import Actor, Role

log = get_logger("crmsync.web.console")
SESSION_COOKIE = "crmsync_ui_session"
FLASH_COOKIE = "crmsync_ui_flash"
LOGIN_DELAY_MAX = 8.0  # seconds a wrong login may be made to wait
LOGIN_LOCK_AFTER = 20  # wrong logins from one address within LOGIN_WINDOW before it is refused outright
LOGIN_WINDOW = 900.0


def signing_keys(ui: UiSettings) -> list[str]:
    """CRMSYNC_UI_SECRET's keys (newest last); else one derived from the login tokens, so changing a
    token also ends every session made with the old one; else (proxy only) one per process."""
    if ui.secrets:
        return list(ui.secrets)
    material = f"crmsync.ui|{ui.token or ''}|{ui.operator_token or ''}"
    if ui.token or ui.operator_token:
        return [hashlib.sha256(material.encode()).hexdigest()]
    import secrets

    return [secrets.token_hex(32)]


class Sessions:
    """Sign and read the session and flash cookies."""

    def __init__(self, keys: list[str], max_age: float) -> None:
        self.max_age = max_age
        self._session = URLSafeTimedSerializer(keys, salt="crmsync.ui.session")
        self._flash = URLSafeTimedSerializer(keys, salt="crmsync.ui.flash")

    def issue(self, actor: Actor) -> str:
        """The cookie value for a fresh login."""
        return self._session.dumps({"id": actor.id, "role": actor.role.value, "via": actor.via})

    def read(self, value: str | None) -> Actor | None:
        """The actor of a valid, unexpired session cookie; None for a missing, tampered or expired one."""
        if not value:
            return None
        try:
            data = self._session.loads(value, max_age=int(self.max_age))
            return Actor(str(data["id"]), Role(data["role"]), str(data["via"]))
        except (BadSignature, KeyError, ValueError, TypeError):
            return None

    def flash(self, message: str) -> str:
        """A flash message's cookie value."""
        return self._flash.dumps(message[:500])

    def read_flash(self, value: str | None) -> str:
        """A flash message, or '' (a minute old at most)."""
        if not value:
            return ""
        try:
            return str(self._flash.loads(value, max_age=60))
        except BadSignature:
            return ""


def token_role(ui: UiSettings, given: str) -> Role | None:
    """The role a login token grants (constant-time comparisons), or None."""
    given_b = given.encode()
    found: Role | None = None
    for token, role in ((ui.operator_token, Role.OPERATOR), (ui.token, Role.VIEWER)):
        if token and hmac.compare_digest(given_b, token.encode()) and found is None:
            found = role
    return found


@dataclass
class Identity:
    """How a request's actor is resolved."""

    ui: UiSettings
    sessions: Sessions
    local_actor: str | None = None  # set for a loopback `crmsync ui` without login: that person, operator
    _networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._networks = [ipaddress.ip_network(p, strict=False) for p in self.ui.trusted_proxies]

    def actor(self, request: Request) -> Actor | None:
        """The proxy's user (from a trusted peer), else the session's, else the local person, else None."""
        header = self.ui.user_header
        if header and (name := request.headers.get(header, "").strip()):
            if self.trusted(request):
                role = Role.OPERATOR if name in self.ui.operators else Role.VIEWER
                return Actor(name[:128], role, "proxy")
            peer = request.client.host if request.client else "?"
            log.warning("console.header_ignored", header=header, peer=peer)  # not among CRMSYNC_UI_TRUSTED_PROXIES
        session = self.sessions.read(request.cookies.get(SESSION_COOKIE))
        if session is not None:
            return session
        if self.local_actor is not None:
            return Actor(self.local_actor, Role.OPERATOR, "local")
        return None

    def trusted(self, request: Request) -> bool:
        """Whether the request came straight from a trusted proxy."""
        if request.client is None:
            return False
        try:
            peer = ipaddress.ip_address(request.client.host)
        except ValueError:
            return False
        return any(peer in n for n in self._networks)

    @property
    def token_login(self) -> bool:
        """Whether the login form is offered."""
        return bool(self.ui.token or self.ui.operator_token)


@dataclass
class Throttle:
    """Wrong logins per client address: each one waits longer (doubling, capped), and an address with
    too many within the window is refused until it passes."""

    failures: dict[str, list[float]] = field(default_factory=dict)

    def delay(self, client: str, now: float | None = None) -> float | None:
        """Seconds to wait before answering a login from `client`; None: refused (too many)."""
        now = time.monotonic() if now is None else now
        recent = [t for t in self.failures.get(client, []) if now - t < LOGIN_WINDOW]
        self.failures[client] = recent
        if len(recent) >= LOGIN_LOCK_AFTER:
            return None
        return min(LOGIN_DELAY_MAX, 0.25 * (2 ** len(recent))) if recent else 0.0

    def failed(self, client: str, now: float | None = None) -> None:
        """Count a wrong login."""
        self.failures.setdefault(client, []).append(time.monotonic() if now is None else now)
        if len(self.failures) > 10_000:  # a flood of addresses must not grow this without bound
            self.failures.pop(next(iter(self.failures)))

    def succeeded(self, client: str) -> None:
        """A right login clears the address's record."""
        self.failures.pop(client, None)
