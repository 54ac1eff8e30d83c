"""Strict checking of config/crmsync.toml: every unknown section or key and every bad value, each
at its `file:line` with a did-you-mean, all at once (ConfigError, exit 2). Pure: `settings.py`
reads the file and calls `check_config` with its text and what tomllib parsed.

`KNOWN` lists every section and key crmsync reads and what each must hold; a key read elsewhere
but missing here would be refused, so add new settings here too.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from typing import Any

from crmsync.errors import ConfigError, quote

NUMBER, WHOLE, POSITIVE = "a number ≥ 0", "a whole number ≥ 0", "a number > 0"
TEXT = "a quoted text"
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
}
_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_\-.]+)\s*=""")


class ConfigProblems(ConfigError):
    """Every problem of the config file, one `file:line: what; hint` per line."""

    def __init__(self, path: str, lines: list[str]) -> None:
        head = [] if len(lines) == 1 else [f"{len(lines)} problems in {path}; nothing was run:"]
        super().__init__("\n".join(head + lines))
        self.lines = lines


def _lines(text: str) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Where each `[section]` and each `key =` under it is written (1-based lines)."""
    sections: dict[str, int] = {}
    keys: dict[tuple[str, str], int] = {}
    current = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if header := _HEADER.match(line):
            current = header.group(1).strip().strip("\"'")
            sections.setdefault(current, number)
        elif key := _KEY.match(line):
            name = key.group(1).strip("\"'")
            keys.setdefault((current, name.split(".")[0] if not current else name), number)
    return sections, keys


def _guess(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word.lower(), choices, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else f"known: {', '.join(choices)}"


def _bad_value(value: Any, want: str) -> str | None:
    """What `value` fails to be (a number ≥ 0 first, then whole or > 0; or text), or None when it fits."""
    if want == TEXT:
        return None if isinstance(value, str) else TEXT
    try:  # an integer past what a float holds (10**400) is no usable number either
        usable = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
    except OverflowError:
        usable = False
    if not usable or value < 0:
        return NUMBER if want != POSITIVE else POSITIVE
    if want == POSITIVE and value == 0:
        return POSITIVE
    return WHOLE if want == WHOLE and isinstance(value, float) and not value.is_integer() else None


def config_problems(text: str, data: Mapping[str, Any], path: str) -> list[str]:
    """Every unknown section or key and every bad value, as `path:line: what; hint` in file order."""
    sections, keys = _lines(text)
    found: list[tuple[int, str]] = []
    for name, table in data.items():
        line = sections.get(name, keys.get(("", name), 1))
        if name not in KNOWN:
            found.append((line, f"{path}:{line}: unknown section [{name}]; {_guess(name, list(KNOWN))}"))
            continue
        if not isinstance(table, dict):
            found.append((line, f"{path}:{line}: [{name}] must be a table of settings, not {quote(table, 40)}"))
            continue
        for key, value in table.items():
            at = keys.get((name, key), line)
            want = KNOWN[name].get(key)
            if want is None:
                hint = _guess(key, list(KNOWN[name]))
                found.append((at, f"{path}:{at}: unknown key '{key}' in [{name}]; {hint}"))
            elif (unfit := _bad_value(value, want)) is not None:
                shown = quote(value) if isinstance(value, str) else repr(value)
                shown = shown if len(shown) <= 40 else shown[:37] + "…"
                found.append((at, f"{path}:{at}: [{name}] {key} must be {unfit}, not {shown}; e.g. {key} = 10"))
    return [message for _, message in sorted(found, key=lambda pair: pair[0])]


def check_config(text: str, data: Mapping[str, Any], path: str) -> None:
    """Raise ConfigProblems (exit 2) naming every problem of the file, or return."""
    problems = config_problems(text, data, path)
    if problems:
        raise ConfigProblems(path, problems)
