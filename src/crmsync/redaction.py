"""The one redaction of secrets: every output path (log lines, error messages, URLs, plan files, JSON
on stdout, run records, tracebacks) masks secret VALUES here, never ordinary words.

Masked: the configured secret values (`secret_values` lists them from the environment settings.py
read; `configure` is called once per process), passwords in URLs, values of secret-named query parameters, bearer/basic
credentials that look like credentials, and values of fields named like a secret. Not masked: the
words themselves ("missing or wrong bearer token" stays readable).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

REDACTED = "***"
# Substrings of a query parameter's name that make its value secret (`?access_token=`, `&sig=`).
QUERY_WORDS = ("password", "passwd", "pwd", "token", "key", "secret", "sig", "signature", "auth", "credential")
# Words of a field's name that make its value secret (`api_key`, `Authorization`, `password`).
FIELD_WORDS = frozenset({"token", "key", "apikey", "password", "passwd", "pwd", "authorization", "secret", "cookie"})
# Never treated as a secret value, whatever a variable holds: masking them would hide plain words.
_PLAIN_WORDS = FIELD_WORDS | {"bearer", "basic", "auth", "sig", "signature", "credential", "credentials"}

URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][\w+.-]*://[^\s:/@]+:)[^\s@]+@")
_QUERY_SECRET = re.compile(r"(?P<head>[?&][^=&\s]*(?:" + "|".join(QUERY_WORDS) + r")[^=&\s]*=)[^&\s#]+", re.IGNORECASE)
# A credential after Bearer/Basic has a digit or token punctuation in it; a plain word ("bearer token",
# "basic auth") is prose, and stays.
_BEARER = re.compile(r"(?P<head>\b(?:Bearer|Basic)\s+)(?=[\w\-.~+/=]*[\d\-.~+/=])[\w\-.~+/=]+", re.IGNORECASE)

_secrets: tuple[str, ...] = ()


SECRET_VARIABLES = (  # values masked in every output, wherever they appear
    "SCHEMATIC_API_KEY",
    "SCHEMATIC_WEBHOOK_SECRET",
    "HUBSPOT_ACCESS_TOKEN",
    "HUBSPOT_CLIENT_SECRET",
    "SALESFORCE_PASSWORD",
    "SALESFORCE_SECURITY_TOKEN",
    "SALESFORCE_ACCESS_TOKEN",
    "SALESFORCE_CONSUMER_SECRET",
    "CRMSYNC_OPS_TOKEN",
    "CRMSYNC_SLACK_WEBHOOK_URL",
)
_PREFIXES = {"CRMSYNC", "SCHEMATIC", "HUBSPOT", "SALESFORCE"}


def secret_values(env: Mapping[str, str]) -> tuple[str, ...]:
    """The secret values set in `env` (the environment settings.py read): every SECRET_VARIABLE, any
    CRMSYNC_/SCHEMATIC_/HUBSPOT_/SALESFORCE_ variable whose name says it holds a key, token, secret or
    password, each key of CRMSYNC_UI_SECRET, and the password of CRMSYNC_DATABASE_URL. Longest first."""
    found = {env[n].strip() for n in SECRET_VARIABLES if env.get(n, "").strip()}
    for name, value in env.items():
        prefix, _, rest = name.partition("_")
        # a length floor: a flag such as CRMSYNC_TOKEN_CHECK=1 must not scrub every "1"
        if prefix in _PREFIXES and is_secret_name(rest) and len(value.strip()) >= 6:
            found.add(value.strip())
    found |= {key.strip() for key in env.get("CRMSYNC_UI_SECRET", "").split(",") if len(key.strip()) >= 6}  # a list
    password = URL_PASSWORD.search(env.get("CRMSYNC_DATABASE_URL", ""))
    if password:
        found.add(env["CRMSYNC_DATABASE_URL"][password.end("head") : password.end() - 1])
    found.discard("")
    return tuple(sorted(found, key=len, reverse=True))  # longest first: a secret containing another


def configure(secrets: Iterable[str]) -> None:
    """The secret values to mask from now on in this process (`Settings.secrets`, from `secret_values`)."""
    global _secrets
    _secrets = ordered(secrets)


def ordered(secrets: Iterable[str]) -> tuple[str, ...]:
    """Secrets worth masking, longest first (a secret containing another is masked whole); plain
    words and empty values are dropped: masking "token" would hide the word everywhere."""
    kept = {s.strip() for s in secrets if s and s.strip() and s.strip().lower() not in _PLAIN_WORDS}
    return tuple(sorted(kept, key=len, reverse=True))


def configured() -> tuple[str, ...]:
    """The secret values `configure` set."""
    return _secrets


def is_secret_name(name: str) -> bool:
    """True when a field or variable name says its value is secret (`api_key`, `X-Auth-Token`)."""
    words = {w for w in re.split(r"[_\-\s]+", name.lower()) if w}
    return bool(words & FIELD_WORDS) or "apikey" in name.lower().replace("_", "")


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without URL passwords, secret query values, bearer credentials, or any of `secrets`
    (default: the configured ones)."""
    for secret in ordered(secrets) or _secrets:
        text = text.replace(secret, REDACTED)
    text = URL_PASSWORD.sub(rf"\g<head>{REDACTED}@", text)
    text = _QUERY_SECRET.sub(rf"\g<head>{REDACTED}", text)
    return _BEARER.sub(rf"\g<head>{REDACTED}", text)


def scrub_line(text: str, secrets: Iterable[str] = ()) -> str:
    """`scrub`, on one line (a vendor's multi-line message in an error or a log field)."""
    return " ".join(scrub(text, secrets).split())


def clean(value: Any, key: str | None = None) -> Any:
    """A structure safe to show: secret-named fields masked, every string scrubbed, other objects'
    repr scrubbed (an object's repr may hold anything)."""
    if key is not None and is_secret_name(key) and value not in (None, ""):
        return REDACTED
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {k: clean(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [clean(v) for v in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return scrub(repr(value))


def redact_url(url: str) -> str:
    """A URL safe to print: user info and the values of secret query keys become `***`. Anything
    that does not parse is not shown at all."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        if parts.port is not None:
            netloc += f":{parts.port}"
        if parts.username is not None or parts.password is not None:
            netloc = f"{REDACTED}@{netloc}"
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        hidden = [(k, REDACTED if any(s in k.lower() for s in QUERY_WORDS) else v) for k, v in pairs]
    except ValueError:
        return "<unparsable URL>"
    slashes = "//" if url[len(parts.scheme) + 1 :].startswith("//") else ""
    query = f"?{urlencode(hidden, safe='*/:')}" if hidden else ""
    return f"{parts.scheme}:{slashes}{netloc}{parts.path}{query}" if parts.scheme else f"{netloc}{parts.path}{query}"
