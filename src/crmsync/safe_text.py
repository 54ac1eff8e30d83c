"""Text from outside (company, feature and deal names, values, notes, API messages) made safe to show
to a person: control characters (newlines and ANSI escapes included), bidi overrides and other
invisible format characters are shown as visible escapes (`\\n`, `\\x1b`, `\\u202e`), so no name can
forge a plan line, colour a terminal or reorder what a reviewer reads. Pure; every renderer (plan,
explain, status, owned, the console log renderer, the web console's `shown` Jinja filter) calls `shown`.
"""

from __future__ import annotations

import unicodedata

# Control characters, format characters (bidi embeddings/overrides/isolates, zero-width marks, BOM),
# line and paragraph separators, lone surrogates: never shown raw.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def unsafe(char: str) -> bool:
    """Whether one character must not reach a terminal or page raw."""
    return unicodedata.category(char) in UNSAFE_CATEGORIES


def escape(char: str) -> str:
    """The visible stand-in of an unsafe character: `\\n`, `\\x1b`, `\\u202e`, `\\U000e0001`."""
    if char in NAMED:
        return NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def shown(text: object) -> str:
    """`text` (any value, as str) with every unsafe character escaped; a safe text comes back as it is."""
    value = text if isinstance(text, str) else str(text)
    if value.isascii() and value.isprintable():  # the common case: nothing to look at one by one
        return value
    return "".join(escape(c) if unsafe(c) else c for c in value)


# For the web console's templates: `env.filters.update(JINJA_FILTERS)`, then `{{ company.name | shown }}`
# (Jinja's autoescape still does the HTML; this does what HTML escaping does not: bidi and controls).
JINJA_FILTERS = {"shown": shown}
