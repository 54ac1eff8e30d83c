"""The grouped, frozen settings a run is given: one dataclass per outside system (Schematic, HubSpot,
Salesforce, the web endpoints) and per concern (locks, serve's jobs), each field naming its variable
or `[section]` key. settings.py fills them from the environment and the TOML file; nothing here reads
either, so the edges that take a group (connectors, web) never see the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from crmsync.errors import ConfigError

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
    """How to reach and log in to one Salesforce org (SALESFORCE_* variables; `[salesforce]` deadline).
    Secrets are kept out of `repr`; `flow()` says which login the values allow, or what is missing."""

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


@dataclass(frozen=True)
class ServeTuning:
    """[serve] of the TOML file: the periodic jobs of `crmsync serve` (its flags win)."""

    poll_interval: float = 60.0  # seconds between polls of the CRMs
    resync_interval: float = 6 * 3600.0  # seconds between full reconciles
    resync_cron: str | None = None  # a crontab expression (UTC) instead of resync_interval


@dataclass(frozen=True)
class SchematicSettings:
    """Schematic's API: where, the secret key, and how crmsync calls it (`[schematic]`)."""

    url: str = "https://api.schematichq.com"  # SCHEMATIC_API_URL
    key: str | None = field(default=None, repr=False)  # SCHEMATIC_API_KEY (secret)
    writes_per_second: float = 20.0  # writes_per_second; Schematic documents 20/s (shared by every process)
    timeout: float = 10.0  # timeout: seconds one attempt may take
    attempts: int = 5  # attempts per request (429/5xx/connection errors)
    deadline: float = 15.0  # deadline: seconds one call may take, retries included
    retry_after_max: float = 30.0  # retry_after_max: the longest Retry-After waited
    max_in_flight: int = 8  # max_in_flight: writes apply has under way at once (0 or 1: one at a time)
    metadata_max_age: float = 300.0  # metadata_max_age: seconds features and plan entitlements are kept (0: never)


@dataclass(frozen=True)
class HubSpotTuning:
    """HubSpot's API: where, the secret token, and how crmsync calls it (`[hubspot]`)."""

    url: str = "https://api.hubapi.com"  # HUBSPOT_API_URL
    token: str | None = field(default=None, repr=False)  # HUBSPOT_ACCESS_TOKEN (secret)
    searches_per_second: float = 4.0  # searches_per_second; HubSpot allows 5/s (shared by every process)
    backoff: float = 1.0  # backoff: urllib3 backoff factor on 429/5xx
    deadline: float = 15.0  # deadline: seconds one call may take, retries included
    retry_after_max: float = 30.0  # retry_after_max: the longest Retry-After waited


@dataclass(frozen=True)
class LockSettings:
    """Exclusion between processes sharing the state database (`[locks]`)."""

    lease_seconds: float = 60.0  # a company's lease lasts this long unless its holder renews it
    wait_seconds: float = 30.0  # how long apply waits for companies another run holds, then skips them


@dataclass(frozen=True)
class UiSettings:
    """The console (`crmsync ui`, `/ui/` of serve): off unless a token or a proxy header is set."""

    token: str | None = field(default=None, repr=False)  # CRMSYNC_UI_TOKEN (secret): viewers log in with it
    operator_token: str | None = field(default=None, repr=False)  # CRMSYNC_UI_OPERATOR_TOKEN (secret): operators'
    user_header: str | None = None  # CRMSYNC_UI_USER_HEADER: the SSO proxy's user header, e.g. X-Forwarded-User
    trusted_proxies: tuple[str, ...] = ()  # CRMSYNC_UI_TRUSTED_PROXIES: addresses/networks the header is believed from
    operators: frozenset[str] = frozenset()  # CRMSYNC_UI_OPERATORS: user names (from the header) who may act
    secrets: tuple[str, ...] = field(default=(), repr=False)  # CRMSYNC_UI_SECRET: cookie keys, newest last
    session_hours: float = 12.0  # CRMSYNC_UI_SESSION_HOURS: a login lasts this long

    @property
    def enabled(self) -> bool:
        """Whether a way to log in is configured (without one only a loopback `crmsync ui` runs)."""
        return bool(self.token or self.operator_token or self.user_header)


MAX_BODY = 1_000_000  # bytes; larger webhook bodies are answered 413
WINDOW = 300  # seconds either side of now a signed timestamp may be (HubSpot and Schematic)
MIN_OPS_TOKEN = 24  # characters; a shorter CRMSYNC_OPS_TOKEN is refused at start (guessable)


@dataclass(frozen=True)
class WebSettings:
    """What serve's endpoints are given: the webhook and ops secrets and ids, each naming its environment
    variable, and the limits on hostile input, each the key of its name in `[web]` of the TOML file."""

    hubspot_client_secret: str | None = field(default=None, repr=False)  # HUBSPOT_CLIENT_SECRET (secret)
    hubspot_portal_id: str | None = None  # HUBSPOT_PORTAL_ID: other portals' events are ignored
    public_url: str | None = None  # CRMSYNC_PUBLIC_URL: the base URL HubSpot calls (signed URI)
    salesforce_organization_id: str | None = None  # SALESFORCE_ORGANIZATION_ID: required for Outbound Messages
    schematic_webhook_secret: str | None = field(default=None, repr=False)  # SCHEMATIC_WEBHOOK_SECRET (secret)
    ops_token: str | None = field(default=None, repr=False)  # CRMSYNC_OPS_TOKEN (secret): bearer of POST /reconcile
    max_body: int = MAX_BODY  # bytes a request body may have; larger is 413
    window: int = WINDOW  # seconds a signed timestamp may be from now; further is 401
    # Hostile input (web/limits.py). HubSpot waits 5 s for an answer and Salesforce 60 s; a genuine
    # sender has its whole body out well inside body_timeout, and a refused one is retried by the vendor.
    body_timeout: float = 10.0  # seconds a request (headers, then body) may take to arrive; then 408, closed
    max_slow_bodies: int = 64  # bodies being received at once; past it 503 at once (a slowloris holds no more)
    max_connections: int = 1000  # uvicorn's limit_concurrency (kept below the open-file limit); past it 503
    keep_alive: int = 5  # seconds an idle keep-alive connection stays open
    max_json_depth: int = 32  # nesting of arrays/objects in a JSON body (vendors send 3 or 4); deeper is 400
    max_notifications: int = 100  # per Outbound Message (Salesforce sends at most 100); more is 400
    notifications_per_minute: float = 2000.0  # per Salesforce org id, burst included; past it 429 (retried)
    failed_tokens_per_minute: float = 10.0  # wrong POST /reconcile tokens per client; past it 429, unchecked
