"""Salesforce settings and logins: which auth flow, the HTTP session, a logged-in client.

`SalesforceSettings.from_env` reads the SALESFORCE_* variables; `open_client` logs in with one
of three flows and returns a simple-salesforce client bound to the session id, so that logging in
again on expiry stays under the connector's control.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed
from simple_salesforce.login import SalesforceLogin

from crmsync.errors import AuthError, ConfigError, ServiceUnavailable

SERVICE = "Salesforce"
INSTANCE_URL, ACCESS_TOKEN = "SALESFORCE_INSTANCE_URL", "SALESFORCE_ACCESS_TOKEN"
USERNAME, PASSWORD, SECURITY_TOKEN = "SALESFORCE_USERNAME", "SALESFORCE_PASSWORD", "SALESFORCE_SECURITY_TOKEN"
CONSUMER_KEY, PRIVATE_KEY_FILE = "SALESFORCE_CONSUMER_KEY", "SALESFORCE_PRIVATE_KEY_FILE"
DOMAIN, CA_BUNDLE, TIMEOUT = "SALESFORCE_DOMAIN", "SALESFORCE_CA_BUNDLE", "SALESFORCE_TIMEOUT"


class AuthFlow(StrEnum):
    """How crmsync logs in to Salesforce."""

    ACCESS_TOKEN = "access token"
    JWT = "JWT bearer"
    PASSWORD = "username-password"


# In order of preference: the flows that can log in again on expiry come first.
FLOW_VARIABLES: dict[AuthFlow, tuple[str, ...]] = {
    AuthFlow.JWT: (USERNAME, CONSUMER_KEY, PRIVATE_KEY_FILE),
    AuthFlow.PASSWORD: (USERNAME, PASSWORD, SECURITY_TOKEN),
    AuthFlow.ACCESS_TOKEN: (ACCESS_TOKEN, INSTANCE_URL),
}


@dataclass(frozen=True)
class SalesforceSettings:
    """How to reach and log in to one Salesforce org. Secrets are kept out of `repr`."""

    instance_url: str | None = None  # https://acme.my.salesforce.com; needed by the access-token flow
    access_token: str | None = field(default=None, repr=False)  # a session id for the access-token flow
    username: str | None = None  # the integration user (password and JWT flows)
    password: str | None = field(default=None, repr=False)
    security_token: str | None = field(default=None, repr=False)
    consumer_key: str | None = None  # the connected app's consumer key (JWT flow)
    private_key_file: str | None = None  # PEM file holding the key the connected app's certificate matches
    domain: str = "login"  # login, test, a My Domain ("acme.my") or its URL
    ca_bundle: str | None = None  # PEM CA bundle to trust instead of the system's (proxies, sandbox)
    timeout: float = 30.0  # seconds, applied to every HTTP call including logins
    deadline: float = 15.0  # seconds one call may take, retries included ([salesforce] deadline)
    api_version: str = "59.0"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SalesforceSettings:
        """Settings from SALESFORCE_* variables; ConfigError naming what is missing for every flow."""

        def get(name: str) -> str | None:
            value = environ.get(name, "").strip()
            return value or None

        try:
            timeout = float(get(TIMEOUT) or 30.0)
        except ValueError as exc:
            raise ConfigError(f"{TIMEOUT} must be a number of seconds") from exc
        settings = cls(
            instance_url=get(INSTANCE_URL),
            access_token=get(ACCESS_TOKEN),
            username=get(USERNAME),
            password=get(PASSWORD),
            security_token=get(SECURITY_TOKEN),
            consumer_key=get(CONSUMER_KEY),
            private_key_file=get(PRIVATE_KEY_FILE),
            domain=get(DOMAIN) or "login",
            ca_bundle=get(CA_BUNDLE),
            timeout=timeout,
        )
        settings.flow()
        return settings

    def flow(self) -> AuthFlow:
        """The first flow whose settings are complete (JWT, password, access token), or ConfigError."""
        values = {
            ACCESS_TOKEN: self.access_token,
            INSTANCE_URL: self.instance_url,
            USERNAME: self.username,
            PASSWORD: self.password,
            SECURITY_TOKEN: self.security_token,
            CONSUMER_KEY: self.consumer_key,
            PRIVATE_KEY_FILE: self.private_key_file,
        }
        missing: list[str] = []
        for flow, names in FLOW_VARIABLES.items():
            absent = [n for n in names if not values[n]]
            if not absent:
                return flow
            missing.append(f"{flow}: {', '.join(absent)}")
        raise ConfigError(
            "Salesforce credentials incomplete; set the variables of one flow (missing for " + "; ".join(missing) + ")"
        )

    @property
    def login_domain(self) -> str:
        """The `domain` simple-salesforce puts in https://{domain}.salesforce.com (URLs accepted)."""
        domain = self.domain.strip().removeprefix("https://").removeprefix("http://").rstrip("/")
        return domain.removesuffix(".salesforce.com")

    def secrets(self) -> tuple[str, ...]:
        """Every credential value, to scrub from messages."""
        values = (self.access_token, self.password, self.security_token, self.username, self.consumer_key)
        return tuple(v for v in values if v)


class _PinnedAdapter(HTTPAdapter):
    """Applies the timeout to calls that set none and, with a CA bundle, verifies against it.

    Pinning here rather than on `Session.verify` matters: with trust_env, requests replaces a
    Session's `verify` by REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (requests#3829); a transport
    argument cannot be overridden, and environment proxies keep working.
    """

    def __init__(self, *, timeout: float, ca_bundle: str | None) -> None:
        super().__init__()
        self._timeout = timeout
        self._ca_bundle = ca_bundle

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        return super().send(
            request,
            stream=stream,
            timeout=self._timeout if timeout is None else timeout,
            verify=self._ca_bundle or verify,
            cert=cert,
            proxies=proxies,
        )


def make_session(settings: SalesforceSettings) -> requests.Session:
    """A requests Session with the settings' timeout and CA bundle on every https call."""
    if settings.ca_bundle and not Path(settings.ca_bundle).is_file():
        raise ConfigError(f"{CA_BUNDLE} does not name a readable file")
    session = requests.Session()
    timeout = min(settings.timeout, settings.deadline / 2)  # two attempts fit the deadline
    session.mount("https://", _PinnedAdapter(timeout=timeout, ca_bundle=settings.ca_bundle))
    return session


def scrub(text: str, settings: SalesforceSettings) -> str:
    """`text` on one line with every credential value replaced by ***."""
    for secret in settings.secrets():
        text = text.replace(secret, "***")
    return " ".join(text.split())


def _client(settings: SalesforceSettings, session: requests.Session, session_id: str, instance: str) -> Salesforce:
    return Salesforce(
        session_id=session_id,
        instance=instance,
        session=session,
        version=settings.api_version,
        parse_float=Decimal,
        object_pairs_hook=dict,
    )


def open_client(settings: SalesforceSettings, session: requests.Session) -> Salesforce:
    """Log in with the settings' flow and return a client bound to the new session id."""
    flow = settings.flow()
    if flow is AuthFlow.ACCESS_TOKEN:
        instance = (settings.instance_url or "").strip()
        if not instance.startswith("https://"):
            raise ConfigError(f"{INSTANCE_URL} must be an https:// URL")
        host = instance.removeprefix("https://").split("/")[0]
        return _client(settings, session, settings.access_token or "", host)
    names = ", ".join((*FLOW_VARIABLES[flow], DOMAIN))
    try:
        if flow is AuthFlow.JWT:
            key = Path(settings.private_key_file or "").read_bytes()
            session_id, instance = SalesforceLogin(
                username=settings.username,
                consumer_key=settings.consumer_key,
                privatekey=key.decode(),
                domain=settings.login_domain,
                session=session,
                sf_version=settings.api_version,
            )
        else:
            session_id, instance = SalesforceLogin(
                username=settings.username,
                password=settings.password,
                security_token=settings.security_token,
                domain=settings.login_domain,
                session=session,
                sf_version=settings.api_version,
            )
    except OSError as exc:
        if isinstance(exc, requests.RequestException):
            raise _unreachable(exc, DOMAIN) from exc
        raise ConfigError(f"{PRIVATE_KEY_FILE} cannot be read ({exc.strerror or type(exc).__name__})") from exc
    except SalesforceAuthenticationFailed as exc:
        detail = scrub(f"{exc.code}: {exc.auth_message}", settings)
        raise AuthError(SERVICE, f"{flow} login failed ({detail})", setting=names, status=401) from exc
    except ValueError as exc:  # a private key file that is not a PEM key
        raise ConfigError(f"{PRIVATE_KEY_FILE} does not hold a PEM private key ({type(exc).__name__})") from exc
    return _client(settings, session, session_id, instance)


def _unreachable(exc: requests.RequestException, setting: str) -> ServiceUnavailable:
    if isinstance(exc, requests.exceptions.SSLError):
        what = f"TLS verification failed ({type(exc).__name__}); trust the right CA with {CA_BUNDLE}"
        return ServiceUnavailable(SERVICE, what, setting=setting)
    kind = "timed out" if isinstance(exc, requests.Timeout) else "unreachable"
    return ServiceUnavailable(SERVICE, f"{kind} ({type(exc).__name__})", setting=setting)


def unreachable(exc: requests.RequestException) -> ServiceUnavailable:
    """A connection failure of an API call as ServiceUnavailable naming SALESFORCE_INSTANCE_URL."""
    return _unreachable(exc, INSTANCE_URL)
