"""The optional TOML file of non-secret tuning (`CRMSYNC_CONFIG`, config/crmsync.toml): read and checked
as a whole, then its sections and numbers read one by one, each bad value a ConfigError naming the key.

Called by settings.py's `load_settings` only; no environment variable is read here.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crmsync.config_check import check_config
from crmsync.errors import ConfigError, quote
from crmsync.reconcile.guards import GuardPolicy
from crmsync.settings_groups import ServeTuning


def read_toml(path: Path, *, explicit: bool) -> dict[str, Any]:
    """The TOML file at `path` ({} when absent and not named by CRMSYNC_CONFIG), checked as a whole."""
    if not path.is_file():
        if explicit:
            raise ConfigError(f"CRMSYNC_CONFIG names {path}, which does not exist")
        return {}
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}; fix the TOML syntax") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path} ({exc.strerror or exc}); check that crmsync may read it") from exc
    check_config(text, data, str(path))  # unknown sections and keys, bad values: all at once, located
    return data


def section(tuning: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """A `[name]` table of the TOML file ({} when absent)."""
    section = tuning.get(name, {})
    if not isinstance(section, dict):
        raise ConfigError(f"config: [{name}] must be a table of settings, not {shown_value(section)}")
    return section


def guards(section: Mapping[str, Any]) -> GuardPolicy:
    """`[guards]`: the blast-radius guards (defaults where a key is absent)."""
    d = GuardPolicy()
    return GuardPolicy(
        max_percent=number(section, "max_percent", d.max_percent),
        min_affected=whole(section, "min_affected", d.min_affected),
        max_count=whole(section, "max_count", d.max_count),
        min_source_percent=number(section, "min_source_percent", d.min_source_percent),
        min_existing=whole(section, "min_existing", d.min_existing),
        window_seconds=number(section, "window_seconds", d.window_seconds),
    )


def serve_tuning(section: Mapping[str, Any]) -> ServeTuning:
    """`[serve]`: polling and the scheduled resync (defaults where a key is absent)."""
    d = ServeTuning()
    cron = section.get("resync_cron", d.resync_cron)
    if cron is not None and not isinstance(cron, str):
        raise ConfigError(f"config: resync_cron must be a crontab expression in quotes, not {cron!r}")
    return ServeTuning(
        poll_interval=number(section, "poll_interval", d.poll_interval),
        resync_interval=number(section, "resync_interval", d.resync_interval),
        resync_cron=cron or None,
    )


def number(section: Mapping[str, Any], key: str, default: float) -> float:
    """A finite number ≥ 0 (TOML's inf and nan are not)."""
    value = section.get(key, default)
    try:  # an integer past what a float holds (10**400) is no usable number either
        usable = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
    except OverflowError:
        usable = False
    if not usable or value < 0:
        raise ConfigError(f"config: {key} must be a number ≥ 0, not {shown_value(value)}")
    return float(value)


def shown_value(value: object) -> str:
    """A setting's value in a message: as written when short, else cut (a 400-digit number)."""
    text = repr(value)
    return text if len(text) <= 60 else quote(text, 40)


def whole(section: Mapping[str, Any], key: str, default: int) -> int:
    """A whole number ≥ 0 (`5` or `5.0`; `2.5` is refused, not truncated)."""
    number(section, key, default)
    value = section.get(key, default)
    if isinstance(value, float) and not value.is_integer():
        raise ConfigError(f"config: {key} must be a whole number ≥ 0, not {shown_value(value)}")
    return int(value)
