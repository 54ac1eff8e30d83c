"""Settings: environment variables (and an optional TOML file of non-secret tuning) →
one frozen `Settings`, loaded once by the CLI and passed in. The only reader of os.environ.

Every setting has a default, so crmsync runs from any directory with no config file.
Secrets (API keys, tokens, passwords) come from the environment only and are never printed:
`require()` names the missing variable, never a value.
"""

from __future__ import annotations

import contextlib
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from crmsync.errors import ConfigError, quote
from crmsync.mapping.values import BadValue, parse_instant
from crmsync.reconcile.guards import GuardPolicy

DEFAULT_CONFIG = Path("config/crmsync.toml")


@dataclass(frozen=True)
class ServeTuning:
    """[serve] of the TOML file: the periodic jobs of `crmsync serve` (its flags win)."""

    poll_interval: float = 60.0  # seconds between polls of the CRMs
    resync_interval: float = 6 * 3600.0  # seconds between full reconciles
    resync_cron: str | None = None  # a crontab expression (UTC) instead of resync_interval


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know about its surroundings."""

    schematic_url: str = "https://api.schematichq.com"  # SCHEMATIC_API_URL
    schematic_key: str | None = field(default=None, repr=False)  # SCHEMATIC_API_KEY (secret)
    hubspot_url: str = "https://api.hubapi.com"  # HUBSPOT_API_URL
    hubspot_token: str | None = field(default=None, repr=False)  # HUBSPOT_ACCESS_TOKEN (secret)
    database_url: str = field(default="", repr=False)  # CRMSYNC_DATABASE_URL (may hold a password)
    mappings: Path = Path("mappings")  # CRMSYNC_MAPPINGS
    hubspot_searches_per_second: float = 4.0  # [hubspot] searches_per_second; HubSpot allows 5/s
    hubspot_backoff: float = 1.0  # [hubspot] backoff: urllib3 backoff factor on 429/5xx
    schematic_writes_per_second: float = 20.0  # [schematic] writes_per_second; Schematic documents 20/s
    schematic_timeout: float = 10.0  # [schematic] timeout in seconds
    schematic_attempts: int = 5  # [schematic] attempts per request (429/5xx/connection errors)
    schematic_deadline: float = 15.0  # [schematic] deadline: seconds one call may take, retries included
    hubspot_deadline: float = 15.0  # [hubspot] deadline: seconds one call may take, retries included
    salesforce_deadline: float = 15.0  # [salesforce] deadline: seconds one call may take, retries included
    schematic_retry_after_max: float = 30.0  # [schematic] retry_after_max: longest Retry-After waited
    hubspot_retry_after_max: float = 30.0  # [hubspot] retry_after_max: longest Retry-After waited
    guards: GuardPolicy = field(default_factory=GuardPolicy)  # [guards]: blast-radius thresholds
    lease_seconds: float = 60.0  # [locks] lease_seconds: a company's lease lasts this long unless renewed
    lock_wait_seconds: float = 30.0  # [locks] wait_seconds: how long apply waits for companies another run holds
    serve: ServeTuning = field(default_factory=ServeTuning)  # [serve]: crmsync serve's periodic jobs
    now: datetime | None = None  # CRMSYNC_NOW: judge deals as of this instant (rehearsals, tests); None: the clock
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)  # for connectors with their own variables

    def require(self, value: str | None, variable: str, what: str) -> str:
        """A secret that must be set, or a ConfigError naming the variable."""
        if not value:
            raise ConfigError(f"{variable} is not set: export it with {what}")
        return value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the environment (default: os.environ) and the optional TOML file."""
    env = dict(os.environ if environ is None else environ)
    tuning = _read_toml(
        Path(env["CRMSYNC_CONFIG"]) if env.get("CRMSYNC_CONFIG") else DEFAULT_CONFIG,
        explicit=bool(env.get("CRMSYNC_CONFIG")),
    )
    hubspot, schematic = _section(tuning, "hubspot"), _section(tuning, "schematic")
    salesforce = _section(tuning, "salesforce")
    defaults = Settings()
    return Settings(
        schematic_url=env.get("SCHEMATIC_API_URL") or defaults.schematic_url,
        schematic_key=env.get("SCHEMATIC_API_KEY") or None,
        hubspot_url=env.get("HUBSPOT_API_URL") or defaults.hubspot_url,
        hubspot_token=env.get("HUBSPOT_ACCESS_TOKEN") or None,
        database_url=env.get("CRMSYNC_DATABASE_URL") or default_database_url(env),
        mappings=Path(env.get("CRMSYNC_MAPPINGS") or defaults.mappings),
        hubspot_searches_per_second=_number(hubspot, "searches_per_second", defaults.hubspot_searches_per_second),
        hubspot_backoff=_number(hubspot, "backoff", defaults.hubspot_backoff),
        schematic_writes_per_second=_number(schematic, "writes_per_second", defaults.schematic_writes_per_second),
        schematic_timeout=_number(schematic, "timeout", defaults.schematic_timeout),
        schematic_attempts=_whole(schematic, "attempts", defaults.schematic_attempts),
        schematic_deadline=_number(schematic, "deadline", defaults.schematic_deadline),
        hubspot_deadline=_number(hubspot, "deadline", defaults.hubspot_deadline),
        salesforce_deadline=_number(salesforce, "deadline", defaults.salesforce_deadline),
        schematic_retry_after_max=_number(schematic, "retry_after_max", defaults.schematic_retry_after_max),
        hubspot_retry_after_max=_number(hubspot, "retry_after_max", defaults.hubspot_retry_after_max),
        guards=_guards(_section(tuning, "guards")),
        lease_seconds=_number(_section(tuning, "locks"), "lease_seconds", defaults.lease_seconds),
        lock_wait_seconds=_number(_section(tuning, "locks"), "wait_seconds", defaults.lock_wait_seconds),
        serve=_serve(_section(tuning, "serve")),
        now=_instant(env.get("CRMSYNC_NOW")),
        environ=env,
    )


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


def _read_toml(path: Path, *, explicit: bool) -> dict[str, Any]:
    if not path.is_file():
        if explicit:
            raise ConfigError(f"CRMSYNC_CONFIG names {path}, which does not exist")
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}; fix the TOML syntax") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path} ({exc.strerror or exc}); check that crmsync may read it") from exc


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


def _section(tuning: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """A `[name]` table of the TOML file ({} when absent)."""
    section = tuning.get(name, {})
    if not isinstance(section, dict):
        raise ConfigError(f"config: [{name}] must be a table of settings, not {_shown(section)}")
    return section


def _guards(section: Mapping[str, Any]) -> GuardPolicy:
    d = GuardPolicy()
    return GuardPolicy(
        max_percent=_number(section, "max_percent", d.max_percent),
        min_affected=_whole(section, "min_affected", d.min_affected),
        max_count=_whole(section, "max_count", d.max_count),
        min_source_percent=_number(section, "min_source_percent", d.min_source_percent),
    )


def _serve(section: Mapping[str, Any]) -> ServeTuning:
    d = ServeTuning()
    cron = section.get("resync_cron", d.resync_cron)
    if cron is not None and not isinstance(cron, str):
        raise ConfigError(f"config: resync_cron must be a crontab expression in quotes, not {cron!r}")
    return ServeTuning(
        poll_interval=_number(section, "poll_interval", d.poll_interval),
        resync_interval=_number(section, "resync_interval", d.resync_interval),
        resync_cron=cron or None,
    )


def _number(section: Mapping[str, Any], key: str, default: float) -> float:
    """A finite number ≥ 0 (TOML's inf and nan are not)."""
    value = section.get(key, default)
    try:  # an integer past what a float holds (10**400) is no usable number either
        usable = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
    except OverflowError:
        usable = False
    if not usable or value < 0:
        raise ConfigError(f"config: {key} must be a number ≥ 0, not {_shown(value)}")
    return float(value)


def _shown(value: object) -> str:
    """A setting's value in a message: as written when short, else cut (a 400-digit number)."""
    text = repr(value)
    return text if len(text) <= 60 else quote(text, 40)


def _whole(section: Mapping[str, Any], key: str, default: int) -> int:
    """A whole number ≥ 0 (`5` or `5.0`; `2.5` is refused, not truncated)."""
    _number(section, key, default)
    value = section.get(key, default)
    if isinstance(value, float) and not value.is_integer():
        raise ConfigError(f"config: {key} must be a whole number ≥ 0, not {_shown(value)}")
    return int(value)
