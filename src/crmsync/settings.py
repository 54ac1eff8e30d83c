"""Settings: environment variables (and an optional TOML file of non-secret tuning) → one frozen
`Settings`, loaded once per process by the entry point (the CLI's `session`, the demo, a test) and
passed down. The ONLY reader of os.environ (tests/core/test_environment.py fails on another): the
Salesforce login, the web endpoints' secrets, Slack and the list of secrets to mask come from here.

Every setting has a default, so crmsync runs from any directory with no config file.
Secrets (API keys, tokens, passwords) come from the environment only and are never printed:
`require()` names the missing variable, never a value.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from crmsync.errors import ConfigError
from crmsync.mapping.values import BadValue, parse_instant
from crmsync.reconcile.guards import GuardPolicy
from crmsync.redaction import secret_values
from crmsync.settings_groups import (
    CA_BUNDLE,
    DOMAIN,
    TIMEOUT,
    HubSpotTuning,
    LockSettings,
    SalesforceSettings,
    SchematicSettings,
    ServeTuning,
    UiSettings,
    WebSettings,
)
from crmsync.settings_toml import guards, number, read_toml, section, serve_tuning, web_limits, whole

__all__ = [  # the groups are defined in settings_groups.py and reach callers through here
    "HubSpotTuning",
    "LockSettings",
    "SalesforceSettings",
    "SchematicSettings",
    "ServeTuning",
    "Settings",
    "UiSettings",
    "WebSettings",
    "load_settings",
    "salesforce_settings",
    "secret_values",
    "web_settings",
]

DEFAULT_CONFIG = Path("config/crmsync.toml")


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know about its surroundings, grouped per outside system."""

    schematic: SchematicSettings = field(default_factory=SchematicSettings)
    hubspot: HubSpotTuning = field(default_factory=HubSpotTuning)
    salesforce: SalesforceSettings = field(default_factory=SalesforceSettings)  # SALESFORCE_*, [salesforce]
    database_url: str = field(default="", repr=False)  # CRMSYNC_DATABASE_URL (may hold a password)
    locks: LockSettings = field(default_factory=LockSettings)
    mappings: Path = Path("mappings")  # CRMSYNC_MAPPINGS
    guards: GuardPolicy = field(default_factory=GuardPolicy)  # [guards]: blast-radius thresholds
    serve: ServeTuning = field(default_factory=ServeTuning)  # [serve]: crmsync serve's periodic jobs
    ui: UiSettings = field(default_factory=UiSettings)  # CRMSYNC_UI_*: the console
    actor: str = ""  # CRMSYNC_ACTOR, else the OS user: who the CLI's runs and actions are recorded as
    now: datetime | None = None  # CRMSYNC_NOW: judge deals as of this instant (rehearsals, tests); None: the clock
    web: WebSettings = field(default_factory=WebSettings)  # serve's webhook secrets and ops token; [web]: its limits
    slack_webhook_url: str | None = field(default=None, repr=False)  # CRMSYNC_SLACK_WEBHOOK_URL (secret)
    secrets: tuple[str, ...] = field(default=(), repr=False)  # every secret value set: masked in all output

    def unpaced(self) -> Settings:
        """The same settings with no client-side pacing (the sandbox has no rate limit unless asked)."""
        return replace(
            self,
            schematic=replace(self.schematic, writes_per_second=0.0),
            hubspot=replace(self.hubspot, searches_per_second=0.0),
        )

    def require(self, value: str | None, variable: str, what: str) -> str:
        """A secret that must be set, or a ConfigError naming the variable."""
        if not value:
            raise ConfigError(f"{variable} is not set: export it with {what}")
        return value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the environment (default: os.environ) and the optional TOML file."""
    env = dict(os.environ if environ is None else environ)
    tuning = read_toml(
        Path(env["CRMSYNC_CONFIG"]) if env.get("CRMSYNC_CONFIG") else DEFAULT_CONFIG,
        explicit=bool(env.get("CRMSYNC_CONFIG")),
    )
    hubspot, schematic = section(tuning, "hubspot"), section(tuning, "schematic")
    salesforce, locks = section(tuning, "salesforce"), section(tuning, "locks")
    sd, hd, ld = SchematicSettings(), HubSpotTuning(), LockSettings()
    return Settings(
        schematic=SchematicSettings(
            url=env.get("SCHEMATIC_API_URL") or sd.url,
            key=env.get("SCHEMATIC_API_KEY") or None,
            writes_per_second=number(schematic, "writes_per_second", sd.writes_per_second),
            timeout=number(schematic, "timeout", sd.timeout),
            attempts=whole(schematic, "attempts", sd.attempts),
            deadline=number(schematic, "deadline", sd.deadline),
            retry_after_max=number(schematic, "retry_after_max", sd.retry_after_max),
            max_in_flight=max(1, whole(schematic, "max_in_flight", sd.max_in_flight)),
            metadata_max_age=number(schematic, "metadata_max_age", sd.metadata_max_age),
        ),
        hubspot=HubSpotTuning(
            url=env.get("HUBSPOT_API_URL") or hd.url,
            token=env.get("HUBSPOT_ACCESS_TOKEN") or None,
            searches_per_second=number(hubspot, "searches_per_second", hd.searches_per_second),
            backoff=number(hubspot, "backoff", hd.backoff),
            deadline=number(hubspot, "deadline", hd.deadline),
            retry_after_max=number(hubspot, "retry_after_max", hd.retry_after_max),
        ),
        salesforce=salesforce_settings(env, deadline=number(salesforce, "deadline", SalesforceSettings().deadline)),
        database_url=env.get("CRMSYNC_DATABASE_URL") or default_database_url(env),
        locks=LockSettings(
            lease_seconds=number(locks, "lease_seconds", ld.lease_seconds),
            wait_seconds=number(locks, "wait_seconds", ld.wait_seconds),
        ),
        mappings=Path(env.get("CRMSYNC_MAPPINGS") or "mappings"),
        guards=guards(section(tuning, "guards")),
        serve=serve_tuning(section(tuning, "serve")),
        now=_instant(env.get("CRMSYNC_NOW")),
        ui=_ui(env),
        actor=(env.get("CRMSYNC_ACTOR") or "").strip() or _os_user(env),
        web=web_limits(section(tuning, "web"), web_settings(env)),
        slack_webhook_url=env.get("CRMSYNC_SLACK_WEBHOOK_URL") or None,
        secrets=secret_values(env),
    )


def _ui(env: Mapping[str, str]) -> UiSettings:
    """The CRMSYNC_UI_* variables; lists are comma-separated."""

    def listed(name: str) -> tuple[str, ...]:
        return tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())

    raw_hours = env.get("CRMSYNC_UI_SESSION_HOURS") or "12"
    try:
        hours = float(raw_hours)
    except ValueError:
        hours = -1.0
    if not 0 < hours <= 24 * 30:
        raise ConfigError(f"CRMSYNC_UI_SESSION_HOURS={raw_hours!r}: give hours between 0 and 720, e.g. 12")
    return UiSettings(
        token=env.get("CRMSYNC_UI_TOKEN") or None,
        operator_token=env.get("CRMSYNC_UI_OPERATOR_TOKEN") or None,
        user_header=(env.get("CRMSYNC_UI_USER_HEADER") or "").strip().lower() or None,
        trusted_proxies=listed("CRMSYNC_UI_TRUSTED_PROXIES"),
        operators=frozenset(listed("CRMSYNC_UI_OPERATORS")),
        secrets=listed("CRMSYNC_UI_SECRET"),
        session_hours=hours,
    )


def _os_user(env: Mapping[str, str]) -> str:
    """The OS user running crmsync (getpass's order of variables, then the password database)."""
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        if env.get(name):
            return env[name]
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return "unknown"


def salesforce_settings(environ: Mapping[str, str], *, deadline: float | None = None) -> SalesforceSettings:
    """The Salesforce login from SALESFORCE_* variables, as set (which flow they allow is checked by
    `SalesforceSettings.flow()` when a mapping reads Salesforce, not here: HubSpot-only users set none)."""

    def get(name: str) -> str | None:
        value = environ.get(name, "").strip()
        return value or None

    try:
        timeout = float(get(TIMEOUT) or 30.0)
    except ValueError as exc:
        raise ConfigError(f"{TIMEOUT} must be a number of seconds") from exc
    d = SalesforceSettings()
    return SalesforceSettings(
        instance_url=get("SALESFORCE_INSTANCE_URL"),
        access_token=get("SALESFORCE_ACCESS_TOKEN"),
        username=get("SALESFORCE_USERNAME"),
        password=get("SALESFORCE_PASSWORD"),
        security_token=get("SALESFORCE_SECURITY_TOKEN"),
        consumer_key=get("SALESFORCE_CONSUMER_KEY"),
        private_key_file=get("SALESFORCE_PRIVATE_KEY_FILE"),
        domain=get(DOMAIN) or d.domain,
        ca_bundle=get(CA_BUNDLE),
        timeout=timeout,
        deadline=d.deadline if deadline is None else deadline,
    )


def web_settings(environ: Mapping[str, str]) -> WebSettings:
    """What serve's endpoints need: webhook secrets, ids to check, the public URL (empty = unset)."""

    def get(name: str) -> str | None:
        return environ.get(name) or None

    public = get("CRMSYNC_PUBLIC_URL")
    return WebSettings(
        hubspot_client_secret=get("HUBSPOT_CLIENT_SECRET"),
        hubspot_portal_id=get("HUBSPOT_PORTAL_ID"),
        public_url=public.rstrip("/") if public else None,
        salesforce_organization_id=get("SALESFORCE_ORGANIZATION_ID"),
        schematic_webhook_secret=get("SCHEMATIC_WEBHOOK_SECRET"),
        ops_token=get("CRMSYNC_OPS_TOKEN"),
    )


def process_environment() -> dict[str, str]:
    """A copy of this process's environment, for a child process crmsync starts (the demo's serve)."""
    return dict(os.environ)


def any_set(names: Iterable[str]) -> bool:
    """True when any of the variables `names` is set and not empty (FORCE_COLOR, TTY_COMPATIBLE: the
    terminal hints the consoles honour before the settings are loaded)."""
    return any(os.environ.get(name) for name in names)


def default_database_url(env: Mapping[str, str]) -> str:
    """SQLite at `$XDG_STATE_HOME/crmsync/crmsync.db` (default `~/.local/state/crmsync/crmsync.db`): one
    ledger per user whatever folder crmsync runs from, never a stray one per working directory. The
    folder is made here; when it cannot be, opening the database says so, naming the file."""
    home = Path(env.get("HOME") or Path.home())
    state = Path(env["XDG_STATE_HOME"]) if env.get("XDG_STATE_HOME") else home / ".local" / "state"
    folder = state.absolute() / "crmsync"
    with contextlib.suppress(OSError):  # then opening the database says why, naming the file
        folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'crmsync.db'}"


def _instant(raw: str | None) -> datetime | None:
    """CRMSYNC_NOW as an aware UTC datetime (as `values.parse_instant` reads dates: ISO 8601, a date
    meaning its start, UTC)."""
    if not raw:
        return None
    try:
        return parse_instant(raw, end_of_day=False)
    except BadValue as exc:
        raise ConfigError(
            f"CRMSYNC_NOW={raw!r} is not an ISO 8601 date or date-time, e.g. 2026-11-21T12:00:00Z"
        ) from exc
