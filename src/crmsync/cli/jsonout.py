"""One JSON object per command on stdout, each with a `format_version` (bumped when a field is
removed or changes meaning; new fields may appear without a bump)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from crmsync.redaction import scrub

FORMAT_VERSION = 1


def emit(doc: Mapping[str, Any]) -> None:
    """Print `doc` (with `format_version` first among equals: keys are sorted) as one JSON object,
    every string scrubbed of secret values (an error text may quote a vendor's message)."""
    print(json.dumps(_scrubbed({**doc, "format_version": FORMAT_VERSION}), indent=2, sort_keys=True))


def _scrubbed(value: Any) -> Any:
    """Strings scrubbed by value only: a JSON field named `key` (a feature's key) is data, not a secret."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {k: _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(v) for v in value]
    return value
