"""Salesforce logins: the HTTP session, a logged-in client.

`SalesforceSettings` (settings_groups.py, filled by settings.py from SALESFORCE_*) says which flow;
`open_client` logs in with one of the three and returns a simple-salesforce client bound to the
session id, so that logging in again on expiry stays under the connector's control.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed
from simple_salesforce.login import SalesforceLogin

from crmsync.errors import AuthError, ConfigError, ServiceUnavailable
from crmsync.redaction import scrub_line
from crmsync.settings_groups import (
    ACCESS_TOKEN,
    CA_BUNDLE,
    DOMAIN,
    FLOW_VARIABLES,
    INSTANCE_URL,
    PRIVATE_KEY_FILE,
    SERVICE,
    AuthFlow,
    SalesforceSettings,
)

__all__ = ["ACCESS_TOKEN", "FLOW_VARIABLES", "SERVICE", "AuthFlow", "SalesforceSettings", "make_session", "open_client"]


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
        detail = scrub_line(f"{exc.code}: {exc.auth_message}", settings.secrets())
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
