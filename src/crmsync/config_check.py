"""Strict checking of config/crmsync.toml: every unknown section or key and every bad value, each
at its `file:line:col` with a did-you-mean, all at once (ConfigError, exit 2). Pure: `settings_toml.py`
reads the file and calls `check_config` with its text and what tomllib parsed.

`KNOWN` lists every section and key crmsync reads and what each must hold; a key read elsewhere
but missing here would be refused, so add new settings here too. This is the one home of those
checks: settings_toml.py only converts values this module has passed (`typed`).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from typing import Any

from crmsync.errors import ConfigError, quote

NUMBER, WHOLE, POSITIVE = "a number ≥ 0", "a whole number ≥ 0", "a number > 0"
COUNT, AT_LEAST_ONE = "a whole number ≥ 1", "a number ≥ 1"
TEXT = "a quoted text"
WHOLE_KINDS = frozenset({WHOLE, COUNT})
KNOWN: dict[str, dict[str, str]] = {
    "hubspot": {"searches_per_second": NUMBER, "backoff": NUMBER, "deadline": POSITIVE, "retry_after_max": NUMBER},
    "schematic": {
        "writes_per_second": NUMBER,
        "timeout": POSITIVE,
        "attempts": WHOLE,
        "deadline": POSITIVE,
        "retry_after_max": NUMBER,
        "max_in_flight": WHOLE,
        "metadata_max_age": NUMBER,
    },
    "salesforce": {"deadline": POSITIVE},
    "guards": {
        "max_percent": NUMBER,
        "min_affected": WHOLE,
        "max_count": WHOLE,
        "min_source_percent": NUMBER,
        "min_existing": WHOLE,
        "window_seconds": NUMBER,
    },
    "locks": {"lease_seconds": POSITIVE, "wait_seconds": NUMBER},
    "serve": {"poll_interval": POSITIVE, "resync_interval": POSITIVE, "resync_cron": TEXT},
    "web": {  # serve's limits on what it is sent (settings_groups.WebSettings, web/limits.py)
        "max_body": COUNT,
        "window": COUNT,
        "body_timeout": POSITIVE,
        "max_slow_bodies": COUNT,
        "max_connections": COUNT,
        "keep_alive": WHOLE,
        "max_json_depth": COUNT,
        "max_notifications": COUNT,
        "notifications_per_minute": POSITIVE,
        "failed_tokens_per_minute": AT_LEAST_ONE,  # under 1 no bucket ever holds a whole try: every token refused
    },
}
# What "e.g. key = …" suggests where 10 would mislead (the default, usually).
EXAMPLES: dict[tuple[str, str], str] = {
    ("serve", "resync_cron"): '"0 */6 * * *"',
    ("web", "max_body"): "1000000",
    ("web", "window"): "300",
    ("web", "max_slow_bodies"): "64",
    ("web", "max_connections"): "1000",
    ("web", "keep_alive"): "5",
    ("web", "max_json_depth"): "32",
    ("web", "max_notifications"): "100",
    ("web", "notifications_per_minute"): "2000",
}
_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_\-.]+)\s*=""")


class ConfigProblems(ConfigError):
    """Every problem of the config file, one `file:line:col: what; hint` per line."""

    def __init__(self, path: str, lines: list[str]) -> None:
        head = [] if len(lines) == 1 else [f"{len(lines)} problems in {path}; nothing was run:"]
        super().__init__("\n".join(head + lines))
        self.lines = lines


Where = tuple[int, int]  # 1-based line and column


def _lines(text: str) -> tuple[dict[str, Where], dict[tuple[str, str], Where]]:
    """Where each `[section]` (its `[`) and each `key =` under it (its first character) is written."""
    sections: dict[str, Where] = {}
    keys: dict[tuple[str, str], Where] = {}
    current = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if header := _HEADER.match(line):
            current = header.group(1).strip().strip("\"'")
            sections.setdefault(current, (number, line.index("[") + 1))
        elif key := _KEY.match(line):
            name = key.group(1).strip("\"'")
            keys.setdefault((current, name.split(".")[0] if not current else name), (number, key.start(1) + 1))
    return sections, keys


def _guess(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word.lower(), choices, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else f"known: {', '.join(choices)}"


def unfit(value: Any, want: str) -> str | None:
    """What `value` fails to be (`want`: a number ≥ 0 unless `want` is stricter; or text), or None when it fits."""
    if want == TEXT:
        return None if isinstance(value, str) else TEXT
    try:  # an integer past what a float holds (10**400) is no usable number either
        usable = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
    except OverflowError:
        usable = False
    if not usable or value < 0:
        return NUMBER if want in (NUMBER, WHOLE) else want
    if (want == POSITIVE and value == 0) or (want in (COUNT, AT_LEAST_ONE) and value < 1):
        return want
    return want if want in WHOLE_KINDS and isinstance(value, float) and not value.is_integer() else None


def typed(value: Any, want: str) -> Any:
    """A value `unfit` passed, as crmsync uses it: an int for a whole number (`5.0` is 5), a
    float for any other number, text as it is."""
    if want == TEXT:
        return value
    return int(value) if want in WHOLE_KINDS else float(value)


def config_problems(text: str, data: Mapping[str, Any], path: str) -> list[str]:
    """Every unknown section or key and every bad value, as `path:line: what; hint` in file order."""
    sections, keys = _lines(text)
    found: list[tuple[Where, str]] = []
    for name, table in data.items():
        where = sections.get(name, keys.get(("", name), (1, 1)))
        here = f"{path}:{where[0]}:{where[1]}"
        if name not in KNOWN:
            found.append((where, f"{here}: unknown section [{name}]; {_guess(name, list(KNOWN))}"))
            continue
        if not isinstance(table, dict):
            found.append((where, f"{here}: [{name}] must be a table of settings, not {quote(table, 40)}"))
            continue
        for key, value in table.items():
            at = keys.get((name, key), where)
            here = f"{path}:{at[0]}:{at[1]}"
            want = KNOWN[name].get(key)
            if want is None:
                hint = _guess(key, list(KNOWN[name]))
                found.append((at, f"{here}: unknown key '{key}' in [{name}]; {hint}"))
            elif (wrong := unfit(value, want)) is not None:
                shown = quote(value) if isinstance(value, str) else repr(value)
                shown = shown if len(shown) <= 40 else shown[:37] + "…"
                example = EXAMPLES.get((name, key), "10")
                found.append((at, f"{here}: [{name}] {key} must be {wrong}, not {shown}; e.g. {key} = {example}"))
    return [message for _, message in sorted(found, key=lambda pair: pair[0])]


def check_config(text: str, data: Mapping[str, Any], path: str) -> None:
    """Raise ConfigProblems (exit 2) naming every problem of the file, or return."""
    problems = config_problems(text, data, path)
    if problems:
        raise ConfigProblems(path, problems)
