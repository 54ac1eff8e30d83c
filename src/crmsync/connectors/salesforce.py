"""The Salesforce connector: closed-won Opportunities as Deals, through simple-salesforce.

Full, scoped (some Accounts) and incremental ((SystemModstamp, Id) cursor) reads. Pages are
fetched one `query`/`query_more` at a time so an expired session is re-established once and the
page retried, and REQUEST_LIMIT_EXCEEDED ends the read as partial. Foreign errors end here.
Retries and re-logins are logged (`api.retry`, `api.relogin`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError
from tenacity import Retrying, retry_if_exception

from crmsync import progress
from crmsync.connectors.base import Changes, DealQuery, PageSink, ReadResult
from crmsync.connectors.salesforce_auth import (
    ACCESS_TOKEN,
    FLOW_VARIABLES,
    SERVICE,
    AuthFlow,
    SalesforceSettings,
    make_session,
    open_client,
    unreachable,
)
from crmsync.connectors.salesforce_describe import DESCRIBE_PATH, schema_from_describe
from crmsync.connectors.salesforce_errors import (
    FieldRejected,
    Page,
    SessionExpired,
    log_retry,
    transient,
    translate_error,
    walk_pages,
)
from crmsync.connectors.salesforce_soql import (
    SalesforceCursor,
    accounts_query,
    changed_query,
    check_field_names,
    companies_query,
    cursor_of,
    full_query,
    matches,
    to_deal,
    uses_record_types,
)
from crmsync.domain import Deal, DealId, Source
from crmsync.errors import AuthError, RateLimited, ServiceUnavailable
from crmsync.logs import get_logger
from crmsync.mapping.crm_schema import CrmSchema
from crmsync.metrics import count_call
from crmsync.retry_policy import salesforce_policy
from crmsync.retrying import PolicyStop, PolicyWait

__all__ = ["FieldRejected", "SalesforceConnector", "SalesforceCursor", "SalesforceSettings", "walk_pages"]

log = get_logger(__name__)


@dataclass
class _Read:
    """What one query produced, record by record."""

    deals: dict[str, Deal] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    last: SalesforceCursor | None = None
    problem: str = ""
    stamps: dict[DealId, str] = field(default_factory=dict)  # an incremental read's SystemModstamp per record
    handed: set[str] = field(default_factory=set)  # ids handed to a page sink (a streamed read keeps no deal)


def _hand_over(read: _Read, on_page: PageSink) -> None:
    """A streamed read: the deals of the page just read go to the sink and are not kept. A full read
    returns each record once; an id seen again is not handed over twice (a page repeated)."""
    fresh = [deal for opp_id, deal in read.deals.items() if opp_id not in read.handed]
    read.handed.update(read.deals)
    read.deals.clear()
    if fresh:
        on_page(fresh)


class SalesforceConnector:
    """Reads closed-won Opportunities; `source` is Salesforce. Logs in lazily, on the first read."""

    source = Source.SALESFORCE

    def __init__(
        self,
        settings: SalesforceSettings,
        *,
        batch_size: int = 2000,
        retries: int = 2,
        retry_wait: float = 0.5,
        chunk_size: int = 200,
    ) -> None:
        self.settings = settings
        self.flow = settings.flow()
        self.batch_size = batch_size  # records per page, 200-2000 (Sforce-Query-Options)
        self.chunk_size = chunk_size  # Account Ids per query in read_deals_of_companies
        self.logins = 0
        self._session = make_session(settings)
        self._client: Salesforce | None = None
        self._requests = 0
        self._deadline_at = 0.0
        self._schema: CrmSchema | None = None
        self.policy = salesforce_policy(retries, settings.deadline, retry_wait)
        self._retrying = Retrying(  # the retry policy adapted to tenacity around requests' calls
            stop=PolicyStop(self.policy),
            wait=PolicyWait(self.policy, lambda _exc: None),  # Salesforce names no Retry-After: back off
            retry=retry_if_exception(transient),
            before_sleep=log_retry,
            reraise=True,
        )

    # --- the Connector Protocol ----------------------------------------------------------------
    def read_deals(self, query: DealQuery, on_page: PageSink | None = None) -> ReadResult:
        """Every closed-won Opportunity the query's filters admit; deleted ones (queryAll) as deleted_ids.
        With `on_page`, the deals are handed over a page at a time and not kept."""
        check_field_names(query.properties)
        return self._result(self._collect(full_query(query.filters, query.properties), query, on_page=on_page))

    def read_deals_of_companies(
        self, query: DealQuery, company_refs: Collection[str], on_page: PageSink | None = None
    ) -> ReadResult:
        """The same, for the given Account Ids only, `chunk_size` Ids per query."""
        check_field_names(query.properties)
        ids = sorted(set(company_refs))
        total = _Read()
        for start in range(0, len(ids), self.chunk_size):
            soql = companies_query(query.filters, query.properties, ids[start : start + self.chunk_size])
            part = self._collect(soql, query, on_page=on_page)
            total.deals.update(part.deals)
            total.gone |= part.gone
            if part.problem:
                total.problem = part.problem
                break
        return self._result(total)

    def companies_of_deals(self, deal_ids: Collection[str]) -> dict[str, str]:
        """Opportunity Id → AccountId, `chunk_size` Ids per query (queryAll: deleted ones keep theirs)."""
        ids = sorted(set(deal_ids))
        found: dict[str, str] = {}
        for start in range(0, len(ids), self.chunk_size):
            for page in self._pages(accounts_query(ids[start : start + self.chunk_size])):
                found.update({str(r["Id"]): str(r["AccountId"]) for r in page.get("records", ()) if r.get("AccountId")})
        self._requests = 0
        return found

    def _pages(self, soql: str) -> Iterator[Page]:
        timeout = self.settings.timeout
        return walk_pages(
            lambda: self._call(lambda sf: sf.query(soql, include_deleted=True, timeout=timeout)),
            lambda url: self._call(lambda sf: sf.query_more(url, identifier_is_url=True, timeout=timeout)),
        )

    def read_changed_since(
        self, query: DealQuery, cursor: SalesforceCursor | None
    ) -> tuple[ReadResult, SalesforceCursor | None]:
        """Opportunities changed after `cursor`, in (SystemModstamp, Id) order, and the new cursor.

        `deals` are the changed ones that are live closed-won deals the filters admit;
        `deleted_ids` the changed ones that are not (deleted, or no longer won or matching),
        so that their contributions are withdrawn. A partial read's cursor is the last record
        read, so the next read resumes there without losing records that share a timestamp.
        """
        check_field_names(query.properties)
        soql = changed_query(query.properties, cursor, record_types=uses_record_types(query.filters))
        read = self._collect(soql, query, incremental=True)
        return self._result(read), read.last or cursor

    def deal_schema(self) -> CrmSchema:
        """Opportunity's fields, StageName values and record types (describe), fetched once per connector."""
        if self._schema is None:
            timeout = self.settings.timeout
            describe = self._call(lambda sf: sf.restful(DESCRIBE_PATH, timeout=timeout) or {})
            self._schema = schema_from_describe(describe)
            self._requests = 0  # a describe is not part of a deal read's count
        return self._schema

    def refresh_schema(self) -> None:
        """The next `deal_schema()` describes Opportunity again."""
        self._schema = None

    def changed_deals(self, cursor: str | None, *, overlap: float) -> Changes:
        """Opportunities changed after the (SystemModstamp, Id) cursor less `overlap`, won or not, deleted
        ones included (queryAll); the cursor is the last record read."""
        if cursor is None:
            now = SalesforceCursor(datetime.now(UTC), "")
            return Changes(self.source, (), now.to_text(), 0)
        start = SalesforceCursor.from_text(cursor)
        start = SalesforceCursor(start.modstamp - timedelta(seconds=overlap), "")
        read = self._collect(changed_query((), start), DealQuery((), ()), incremental=True)
        ids = tuple(DealId(i) for i in (*read.deals, *sorted(read.gone)))
        last = read.last or SalesforceCursor.from_text(cursor)
        requests_made, self._requests = self._requests, 0
        if read.problem:
            raise ServiceUnavailable(SERVICE, f"polling stopped early: {read.problem}")
        return Changes(self.source, ids, last.to_text(), requests_made, dict(read.stamps))

    def close(self) -> None:
        """Close the HTTP session's connections."""
        self._session.close()

    def __enter__(self) -> SalesforceConnector:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- reading -------------------------------------------------------------------------------
    def _result(self, read: _Read) -> ReadResult:
        requests_made, self._requests = self._requests, 0
        return ReadResult(
            source=self.source,
            deals=tuple(read.deals.values()),
            complete=not read.problem,
            deleted_ids=frozenset(DealId(i) for i in read.gone),
            problem=read.problem,
            requests=requests_made,
        )

    def _collect(
        self, soql: str, query: DealQuery, *, incremental: bool = False, on_page: PageSink | None = None
    ) -> _Read:
        read = _Read()
        headers = {"Sforce-Query-Options": f"batchSize={self.batch_size}"}
        timeout = self._attempt_timeout  # the SDK has no default; cut to what is left of the deadline
        pages = walk_pages(
            lambda: self._call(lambda sf: sf.query(soql, include_deleted=True, headers=headers, timeout=timeout())),
            lambda url: self._call(
                lambda sf: sf.query_more(url, identifier_is_url=True, headers=headers, timeout=timeout())
            ),
        )
        try:
            for page in pages:
                progress.emit(progress.PageRead("salesforce", len(page.get("records", ()))))
                for record in page.get("records", ()):
                    self._take(read, record, query, incremental)
                if on_page is not None:
                    _hand_over(read, on_page)
        except RateLimited as exc:
            log.warning("api.rate_limited", service="salesforce", detail=str(exc), partial=True)
            read.problem = f"stopped early: {exc}"
        except ServiceUnavailable as exc:
            if read.last is None and not read.deals and not read.gone and not read.handed:
                raise
            read.problem = f"stopped early: {exc}"
        return read

    def _take(self, read: _Read, record: Mapping[str, Any], query: DealQuery, incremental: bool) -> None:
        opp_id = str(record["Id"])
        if incremental:
            read.last = cursor_of(record)
            read.stamps[DealId(opp_id)] = read.last.to_text()
            live = matches(record, query.filters)
        else:
            live = not record.get("IsDeleted")
        if live:
            read.deals[opp_id] = to_deal(record, query.properties)
            read.gone.discard(opp_id)
        else:
            read.deals.pop(opp_id, None)
            read.gone.add(opp_id)

    # --- one API call: retries, one re-login, translation --------------------------------------
    def _attempt_timeout(self) -> float:
        """One attempt's timeout: the setting, cut to what is left of the call's deadline."""
        return max(0.05, min(self.settings.timeout, self._deadline_at - time.monotonic()))

    def _call(self, request: Callable[[Salesforce], Page]) -> Page:
        self._deadline_at = time.monotonic() + self.settings.deadline
        for attempt in (1, 2):
            try:
                result: Page = self._retrying(self._attempt, request)
                return result
            except SessionExpired as exc:
                if self.flow is AuthFlow.ACCESS_TOKEN:
                    message = "session expired or invalid; the access-token flow cannot log in again"
                    raise AuthError(SERVICE, message, setting=ACCESS_TOKEN, status=401) from exc
                if attempt == 2:
                    message = f"{self.flow} session rejected right after a fresh login"
                    setting = ", ".join(FLOW_VARIABLES[self.flow])
                    raise AuthError(SERVICE, message, setting=setting, status=401) from exc
                log.info("api.relogin", service="salesforce", flow=str(self.flow), reason="session expired")
                self._client = None  # log in again, then retry this page
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, request: Callable[[Salesforce], Page]) -> Page:
        if self._client is None:
            self._client = open_client(self.settings, self._session)
            if self.flow is not AuthFlow.ACCESS_TOKEN:
                self.logins += 1
        self._requests += 1
        try:
            answer = request(self._client)
        except SalesforceError as exc:
            count_call("salesforce", exc.status)
            raise translate_error(exc) from exc
        except (requests.exceptions.JSONDecodeError, KeyError, TypeError) as exc:  # not Salesforce's JSON
            raise ServiceUnavailable(SERVICE, f"unreadable response ({type(exc).__name__})") from exc
        except requests.RequestException as exc:
            count_call("salesforce", "error")
            raise unreachable(exc) from exc
        count_call("salesforce", 200)
        return answer
