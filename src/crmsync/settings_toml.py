"""The optional TOML file of non-secret tuning (`CRMSYNC_CONFIG`, config/crmsync.toml): read, then
checked as a whole by config_check.py (the one home of what each key must hold: every bad value a
located `file:line:col` error, exit 2), then its sections read as typed values over the defaults.

Called by settings.py's `load_settings` only; no environment variable is read here.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from crmsync.config_check import KNOWN, check_config, typed
from crmsync.errors import ConfigError
from crmsync.reconcile.guards import GuardPolicy
from crmsync.settings_groups import ServeTuning, WebSettings

Section = Mapping[str, Any]  # one `[table]` of a file check_config passed


def read_toml(path: Path, *, explicit: bool) -> dict[str, Any]:
    """The TOML file at `path` ({} when absent and not named by CRMSYNC_CONFIG), checked as a whole:
    every section and value the readers below take has passed `check_config`."""
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


def section(tuning: Mapping[str, Any], name: str) -> Section:
    """The `[name]` table of a checked file ({} when absent)."""
    table: Section = tuning.get(name, {})
    return table


def number(table: Section, key: str, default: float) -> float:
    """A checked number setting (`default` when absent)."""
    return float(table.get(key, default))


def whole(table: Section, key: str, default: int) -> int:
    """A checked whole-number setting (`5.0` is 5; `default` when absent)."""
    return int(table.get(key, default))


def guards(table: Section) -> GuardPolicy:
    """`[guards]`: the blast-radius guards (defaults where a key is absent)."""
    d = GuardPolicy()
    return GuardPolicy(
        max_percent=number(table, "max_percent", d.max_percent),
        min_affected=whole(table, "min_affected", d.min_affected),
        max_count=whole(table, "max_count", d.max_count),
        min_source_percent=number(table, "min_source_percent", d.min_source_percent),
        min_existing=whole(table, "min_existing", d.min_existing),
        window_seconds=number(table, "window_seconds", d.window_seconds),
    )


def serve_tuning(table: Section) -> ServeTuning:
    """`[serve]`: polling and the scheduled resync (defaults where a key is absent)."""
    d = ServeTuning()
    return ServeTuning(
        poll_interval=number(table, "poll_interval", d.poll_interval),
        resync_interval=number(table, "resync_interval", d.resync_interval),
        resync_cron=table.get("resync_cron", d.resync_cron) or None,
    )


def web_limits(table: Section, web: WebSettings) -> WebSettings:
    """`[web]`: serve's limits on what it is sent (body deadline and caps, JSON depth, rates), over
    `web`'s defaults; each key is the WebSettings field of its name (config_check.KNOWN["web"])."""
    kinds = KNOWN["web"]
    return replace(web, **{key: typed(value, kinds[key]) for key, value in table.items()})
