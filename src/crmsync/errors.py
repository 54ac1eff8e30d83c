"""crmsync's own error hierarchy, grouped by what the caller should do.

    CrmsyncError
    ├── ConfigError              bad settings or environment: fix and re-run (exit 2)
    ├── MappingError             one or more located problems in mapping files (exit 2)
    ├── ServiceError             an outside API failed: names the service and the setting
    │   ├── ServiceUnavailable   timed out, or 5xx after retries: this item fails, retry later
    │   │   └── ServiceUnreachable   cannot connect at all: stop the run
    │   ├── AuthError            credentials rejected: fix the named variable
    │   ├── RateLimited          429 after retries; carries the delay the service asked for
    │   └── RequestRejected      4xx for one request: give up on that item, keep the run
    └── UnsafePlanError          a guard refused to apply the plan

Edge modules (connectors, schematic, store) are the only ones that catch foreign
exceptions; they raise these with `raise … from exc`. Messages never contain secrets (URLs in them
go through `redaction.redact_url`).
"""

from __future__ import annotations

from dataclasses import dataclass


class CrmsyncError(Exception):
    """Base of every error crmsync raises on purpose; the CLI prints it as one line."""

    exit_code = 1


class ConfigError(CrmsyncError):
    """A setting or environment variable is missing or invalid."""

    exit_code = 2


@dataclass(frozen=True, order=True)
class Problem:
    """One located problem: `path:line:col: message`, with an optional hint."""

    path: str
    line: int
    col: int
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.path}:{self.line}:{self.col}: {self.message}"
        return f"{text}; {self.hint}" if self.hint else text


class MappingError(CrmsyncError):
    """Every problem found in the mapping files, reported together."""

    exit_code = 2

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ServiceError(CrmsyncError):
    """An outside API failed. `service` names it; `setting` names what to check."""

    def __init__(self, service: str, message: str, *, setting: str = "", status: int | None = None) -> None:
        self.service = service
        self.setting = setting
        self.status = status
        self.detail = message
        super().__init__(f"{service}: {message}{likely_cause(service, setting, status)}")


def likely_cause(service: str, setting: str, status: int | None) -> str:
    """Where on-call should look: a 5xx is the service's own fault (its URL and credentials worked),
    401/403 the credential variable, anything else (no answer at all: a connection error) the setting
    named, usually the URL variable."""
    if status is not None and status >= 500:
        return f" ({service} failed on its side; crmsync retries, see the service's status page)"
    return f" (check {setting})" if setting else ""


class ServiceUnavailable(ServiceError):
    """Unreachable, timed out, or a 5xx that outlived the retries."""


class ServiceUnreachable(ServiceUnavailable):
    """No connection could be made: every further call would fail too."""


class AuthError(ServiceError):
    """The service rejected the credentials."""


class RateLimited(ServiceError):
    """The service kept answering 429; `retry_after` is its requested delay in seconds."""

    def __init__(self, service: str, message: str, *, retry_after: float | None = None, setting: str = "") -> None:
        super().__init__(service, message, setting=setting, status=429)
        self.retry_after = retry_after


class RequestRejected(ServiceError):
    """A 4xx for one request: that item fails, the run goes on."""


class UnsafePlanError(CrmsyncError):
    """A safety guard refused the plan; the message names numbers, threshold and flag."""

    exit_code = 3


QUOTE_LIMIT = 200  # characters of an outside value an error message shows


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """A value as an error message shows it: repr'd, cut to about `limit` characters, saying how long
    it was (a 10 MB deal property must not make every plan and run record 10 MB)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text):,} characters)"
