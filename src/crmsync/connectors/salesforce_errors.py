"""Salesforce errors and retries: simple-salesforce's errors as crmsync's (the only place they are
interpreted), the query pager and the `api.retry` log of the Salesforce connector."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession

from crmsync.connectors.salesforce_auth import SERVICE
from crmsync.errors import RateLimited, RequestRejected, ServiceError, ServiceUnavailable
from crmsync.logs import get_logger

Page = Mapping[str, Any]
log = get_logger("crmsync.connectors.salesforce")


class FieldRejected(RequestRejected):
    """Salesforce refused a query naming a field it does not have (INVALID_FIELD)."""

    def __init__(self, message: str, *, error_code: str, field: str | None) -> None:
        super().__init__(SERVICE, message, status=400)
        self.error_code = error_code
        self.field = field  # the unknown field as Salesforce quotes it, when it does


class SessionExpired(Exception):
    """401 INVALID_SESSION_ID: log in again (once) or give up."""


def walk_pages(first: Callable[[], Page], more: Callable[[str], Page]) -> Iterator[Page]:
    """Yield the first page and every page its `nextRecordsUrl` chain leads to; a repeat is an error."""
    page = first()
    seen: set[str] = set()
    while True:
        yield page
        if page.get("done", True):
            return
        url = str(page.get("nextRecordsUrl") or "")
        if not url or url in seen:
            what = f"repeated nextRecordsUrl {url}" if url else "a page not done without nextRecordsUrl"
            raise ServiceUnavailable(SERVICE, f"query paging broke: {what}")
        seen.add(url)
        page = more(url)


def _salesforce_error(exc: SalesforceError) -> tuple[str, str]:
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], Mapping):
        return str(content[0].get("errorCode", "")), str(content[0].get("message", ""))
    return "", str(content)[:200]


def translate_error(exc: SalesforceError) -> ServiceError | SessionExpired:
    """One simple-salesforce error as crmsync's (the only place these are interpreted)."""
    code, message = _salesforce_error(exc)
    sentence = " ".join(line for line in message.splitlines() if line and not line.strip().startswith("^"))
    sentence = re.sub(r"^.*ERROR at Row:\d+:Column:\d+ ", "", sentence)
    if isinstance(exc, SalesforceExpiredSession):
        return SessionExpired(code)
    if exc.status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
        return RateLimited(SERVICE, f"API request limit reached ({code}: {message})")
    if exc.status >= 500:
        return ServiceUnavailable(SERVICE, f"HTTP {exc.status} {code}".strip(), status=exc.status)
    if code == "INVALID_FIELD":
        quoted = re.search(r"No such column '([^']+)'", sentence)
        text = f"Opportunity query rejected ({code}): {sentence}"
        return FieldRejected(text, error_code=code, field=quoted.group(1) if quoted else None)
    return RequestRejected(SERVICE, f"request rejected ({exc.status} {code}): {sentence}", status=exc.status)


def log_retry(state: Any) -> None:
    """An `api.retry` event for a transient failure about to be retried."""
    exc = state.outcome.exception() if state.outcome else None
    log.info(
        "api.retry",
        service="salesforce",
        status=getattr(exc, "status", None),
        reason=type(exc).__name__,
        detail=str(exc),  # crmsync's own message: no secret, and scrubbed anyway
        attempt=state.attempt_number,
        wait_s=round(state.next_action.sleep, 3) if state.next_action else None,
    )


def transient(exc: BaseException) -> bool:
    """Worth another try: unreachable, timed out or 5xx; never a TLS verification failure."""
    return isinstance(exc, ServiceUnavailable) and not isinstance(exc.__cause__, requests.exceptions.SSLError)
