"""One JSON object per command on stdout, each with a `format_version` (bumped when a field is
removed or changes meaning; new fields may appear without a bump)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

FORMAT_VERSION = 1


def emit(doc: Mapping[str, Any]) -> None:
    """Print `doc` (with `format_version` first among equals: keys are sorted) as one JSON object."""
    print(json.dumps({**doc, "format_version": FORMAT_VERSION}, indent=2, sort_keys=True))
