"""HubSpot connector on hubspot-api-client: closed deals and their primary companies.

Reads with the CRM search API, windowing on `hs_object_id` so that more than 10,000 deals
are all read (HubSpot refuses to page a single search past 10,000 results), then reads
deal→company associations in batches of 1,000. The SDK is configured (`host`, retry,
explicit timeouts on every call), never patched; reads send plain-dict bodies and take the
raw answer (`_preload_content=False`, then `json.loads`): no SDK model is built per deal.
Its errors become crmsync's here. Searches are paced by a rate budget; every retry urllib3
makes is logged (`api.retry`).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import hubspot
import urllib3
from hubspot.crm.associations.v4 import ApiException as AssociationsApiException
from hubspot.crm.deals import ApiException as DealsApiException

from crmsync import pacing, progress
from crmsync.connectors import hubspot_convert as convert
from crmsync.connectors import hubspot_retry
from crmsync.connectors.base import Changes, DealQuery, PageSink, ReadResult
from crmsync.connectors.hubspot_convert import PAGE, SERVICE, URL_SETTING
from crmsync.connectors.hubspot_meta import read_deal_schema
from crmsync.domain import Deal, DealId, Source, gc_paused
from crmsync.errors import ServiceUnavailable, ServiceUnreachable
from crmsync.logs import get_logger
from crmsync.mapping.crm_schema import CrmSchema
from crmsync.mapping.translate import deal_counts
from crmsync.metrics import count_call
from crmsync.retry_policy import hubspot_policy

SEARCH_CAP = 10_000  # HubSpot answers 400 past this many results of one search
ASSOCIATION_BATCH = 1_000
BATCH_READ = 100  # deals per batch read
UNREADABLE_ATTEMPTS = 3  # sends of a read answered 200 with a body that is not JSON
BASE_PROPERTIES = ("dealname", "dealstage", "pipeline", "closedate", "hs_lastmodifieddate")
log = get_logger(__name__)


@dataclass(frozen=True)
class HubSpotSettings:
    """How to reach HubSpot."""

    base_url: str  # HUBSPOT_API_URL
    access_token: str  # HUBSPOT_ACCESS_TOKEN (a secret: never printed)
    connect_timeout: float = 5.0
    read_timeout: float = 30.0  # per attempt, and never more than half the deadline
    searches_per_second: float = 4.0  # HubSpot allows 5/s per account; search 429s carry no Retry-After
    retries: int = 5
    backoff: float = 1.0  # urllib3 backoff factor for 429/5xx
    deadline: float = 15.0  # seconds one SDK call may take, retries and waits included
    retry_after_max: float = 30.0  # the longest Retry-After waited

    def __repr__(self) -> str:
        return f"HubSpotSettings(base_url={self.base_url!r}, access_token=***)"


class HubSpotConnector:
    """Reads closed deals from HubSpot (implements `connectors.base.Connector`)."""

    source = Source.HUBSPOT

    def __init__(self, settings: HubSpotSettings, budget: pacing.RateBudget | None = None) -> None:
        """`budget` paces searches (default: this process alone, at `settings.searches_per_second`)."""
        read_timeout = min(settings.read_timeout, settings.deadline / 2)
        policy = hubspot_policy(settings.retries, settings.deadline, settings.retry_after_max, settings.backoff)
        retry = hubspot_retry.LoggedRetry.from_policy(policy, attempt_time=read_timeout)
        client = hubspot.Client.create(access_token=settings.access_token, host=settings.base_url, retry=retry)
        self._client = client
        self._schema: CrmSchema | None = None  # the deal schema (hubspot_meta.py), read once per run
        # Each attribute access builds a new API client and pool: take them once.
        self._search_api = client.crm.deals.search_api
        self._associations_api = client.crm.associations.v4.batch_api
        self._batch_api = client.crm.deals.batch_api
        self._timeout = (min(settings.connect_timeout, read_timeout), read_timeout)
        self._deadline = settings.deadline
        self._searches = budget or pacing.budget("hubspot.search", settings.searches_per_second)
        self.requests = 0  # API calls of the read in progress

    def read_deals(self, query: DealQuery, on_page: PageSink | None = None) -> ReadResult:
        """Every deal in the query's stages and pipelines, each with its primary company. With `on_page`,
        the deals are handed over as read, one association batch (1,000) at a time, and not kept."""
        kept: list[Deal] = []
        sink = on_page or kept.extend
        batch: list[dict[str, Any]] = []
        for record in self._search_all(query):
            batch.append(record)
            if len(batch) == ASSOCIATION_BATCH:  # five search pages: one association read
                sink(self._converted(batch))
                batch = []
        if batch:
            sink(self._converted(batch))
        return self._result(tuple(kept))

    def _converted(self, records: Sequence[dict[str, Any]]) -> list[Deal]:
        """Search results as deals, each built once with its primary company (read for all at once)."""
        companies = self._primary_companies([DealId(str(r["id"])) for r in records])
        return [convert.deal(r, companies.get(str(r["id"]))) for r in records]

    def read_deals_of_companies(
        self, query: DealQuery, company_refs: Collection[str], on_page: PageSink | None = None
    ) -> ReadResult:
        """The matching deals whose primary company is one of `company_refs` (a scoped reconcile):
        company→deal associations, then a batch read of those deals beside their primary companies
        (both need only the deal ids: on serve's path of one webhook, a round trip less)."""
        deal_ids = sorted(self._deals_of_companies(sorted(set(company_refs))), key=int)
        with ThreadPoolExecutor(1, thread_name_prefix="crmsync-hubspot") as side:
            primaries = side.submit(self._primary_companies, [DealId(i) for i in deal_ids])
            found = self._batch_read(query, deal_ids)
            companies = primaries.result()
        wanted = set(company_refs)
        with_company = (convert.with_company(d, companies.get(d.id)) for d in found)
        deals = tuple(d for d in with_company if d.company_ref in wanted)
        if on_page is None:
            return self._result(deals)
        on_page(deals)  # a scoped read is small: one page
        return self._result(())

    def _batch_read(self, query: DealQuery, deal_ids: Sequence[str]) -> list[Deal]:
        """The deals of `deal_ids` in the query's stages, 100 a batch read, without their companies."""
        properties = sorted({*BASE_PROPERTIES, *query.properties})
        found: list[Deal] = []
        for start in range(0, len(deal_ids), BATCH_READ):
            body = {
                "inputs": [{"id": i} for i in deal_ids[start : start + BATCH_READ]],
                "properties": properties,
                "propertiesWithHistory": [],
            }
            page = self._call(
                lambda body=body: self._batch_api.read(
                    batch_read_input_simple_public_object_id=body,
                    archived=False,
                    _request_timeout=self._timeout,
                    _preload_content=False,
                )
            )
            found.extend(d for d in (convert.deal(r) for r in page["results"]) if _counted(d, query))
        return found

    def companies_of_deals(self, deal_ids: Collection[str]) -> dict[str, str]:
        """deal id → primary company id, by v4 association batch reads (1,000 ids a call)."""
        found = self._primary_companies([DealId(i) for i in sorted(set(deal_ids))])
        self.requests = 0
        return found

    def _result(self, deals: tuple[Deal, ...]) -> ReadResult:
        """One read's deals and the API calls it made (the counter starts again for the next read)."""
        made, self.requests = self.requests, 0
        return ReadResult(self.source, deals, requests=made)

    def _search_all(self, query: DealQuery) -> Iterator[dict[str, Any]]:
        """Every search result of the query, raw (each becomes a deal once its company is known)."""
        properties = sorted({*BASE_PROPERTIES, *query.properties})
        last_id: int | None = None
        after: str | None = None  # an opaque cursor: never parsed, only sent back
        in_window = 0  # how far into the current id window the next page starts
        seen_tokens: set[tuple[int | None, str | None]] = set()
        while True:
            if (last_id, after) in seen_tokens:
                raise ServiceUnavailable(SERVICE, f"search paging repeated itself at id {last_id}, after {after}")
            seen_tokens.add((last_id, after))
            request = convert.search_body(convert.filter_groups(query, last_id), "hs_object_id", properties, after)
            page = self._search(request)
            results = page["results"]
            progress.emit(progress.PageRead("hubspot", len(results)))
            yield from results
            in_window += PAGE  # the cursor moves a page on even when a page comes back short
            nxt = convert.next_after(page)
            if nxt is None:
                return
            if not results:
                raise ServiceUnavailable(SERVICE, "search returned an empty page with a next link")
            if in_window + PAGE > SEARCH_CAP:  # the next page would pass the cap: a new window after the last id
                last_id, after, in_window = int(results[-1]["id"]), None, 0
            else:
                after = str(nxt)

    def changed_deals(self, cursor: str | None, *, overlap: float) -> Changes:
        """Deals whose `hs_lastmodifieddate` is at or after the cursor (epoch ms) less `overlap`, in that
        order, windowed past the 10,000-result cap by the last instant seen. Archived deals never show
        here: the scheduled full reconcile catches them."""
        if cursor is None:
            return Changes(self.source, (), str(int(time.time() * 1000)), 0)
        since = max(0, int(cursor) - int(overlap * 1000))
        found: dict[DealId, str] = {}
        newest = int(cursor)
        after: str | None = None
        while True:
            groups = [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(since)}]}]
            page = self._search(convert.search_body(groups, "hs_lastmodifieddate", ["hs_lastmodifieddate"], after))
            fresh = [r for r in page["results"] if DealId(str(r["id"])) not in found]
            for record in page["results"]:
                stamp = convert.instant((record.get("properties") or {}).get("hs_lastmodifieddate"))
                found[DealId(str(record["id"]))] = str(int(stamp.timestamp() * 1000)) if stamp else ""
                if stamp is not None:
                    newest = max(newest, int(stamp.timestamp() * 1000))
            nxt = convert.next_after(page)
            if nxt is None:
                break
            if len(found) % SEARCH_CAP >= SEARCH_CAP - PAGE:  # the cap is near: a new window from the newest seen
                if not fresh or newest == since:
                    raise ServiceUnavailable(SERVICE, f"over {SEARCH_CAP} deals changed in one millisecond at {since}")
                since, after = newest, None
            else:
                after = str(nxt)
        made, self.requests = self.requests, 0
        return Changes(self.source, tuple(found), str(newest), made, {d: v for d, v in found.items() if v})

    def _primary_companies(self, deal_ids: Sequence[DealId]) -> dict[str, str]:
        targets = self._associated("deals", "companies", deal_ids)
        chosen = {deal: convert.primary(to) for deal, to in targets.items()}
        return {deal: company for deal, company in chosen.items() if company is not None}

    def _deals_of_companies(self, company_ids: Sequence[str]) -> set[str]:
        targets = self._associated("companies", "deals", company_ids)
        return {str(t["toObjectId"]) for to in targets.values() for t in to}

    def _associated(self, from_type: str, to_type: str, ids: Sequence[str]) -> dict[str, list[Any]]:
        """Every association of each id, 1,000 ids a call, following an id's own paging when it
        has more than one answer holds (a primary company may be on a later page)."""
        found: dict[str, list[Any]] = {}
        pending: list[dict[str, str]] = [{"id": str(i)} for i in ids]
        while pending:
            chunk, pending = pending[:ASSOCIATION_BATCH], pending[ASSOCIATION_BATCH:]
            body = {"inputs": chunk}
            page = self._call(
                lambda body=body: self._associations_api.get_page(
                    from_object_type=from_type,
                    to_object_type=to_type,
                    batch_input_public_fetch_associations_batch_request=body,
                    _request_timeout=self._timeout,
                    _preload_content=False,
                )
            )
            for result in page["results"]:
                origin = str(result["from"]["id"])
                found.setdefault(origin, []).extend(result.get("to") or [])
                after = convert.next_after(result)
                if after:
                    pending.append({"id": origin, "after": str(after)})
        return found

    def deal_schema(self) -> CrmSchema:
        """Deal properties and pipelines (properties and pipelines APIs), fetched once per connector."""
        schema = self._schema
        if schema is None:
            schema = self._schema = self._call(lambda: read_deal_schema(self._client, self._timeout), paged=False)
            self.requests = 0  # not part of a deal read's count
        return schema

    def refresh_schema(self) -> None:
        """The next `deal_schema()` reads the properties and pipelines again."""
        self._schema = None

    def close(self) -> None:
        """Close the SDK's connection pools."""
        for api in (self._search_api, self._associations_api, self._batch_api):
            api.api_client.rest_client.pool_manager.clear()

    def _search(self, request: dict[str, Any]) -> Any:
        """One paced search page, as parsed JSON."""
        return self._call(
            lambda: self._search_api.do_search(
                public_object_search_request=request, _request_timeout=self._timeout, _preload_content=False
            ),
            search=True,
        )

    def _call(self, send: Any, *, search: bool = False, paged: bool = True) -> Any:
        """One SDK call under its deadline. A `paged` call answers raw (`_preload_content=False`): its
        body is parsed here, and one that is not a JSON object with a `results` list (a 200 from a
        proxy, a body cut short) is a read, so it is sent again."""
        if search:
            self._searches.take()
        hubspot_retry.begin(self._deadline)
        for _ in range(UNREADABLE_ATTEMPTS):
            # The SDK's answer objects form reference cycles: one a collection finds in use is promoted and
            # its page waits for a full collection. With none during the call, a young collection frees it.
            with gc_paused():
                page = self._send(send)
                if not paged:
                    return page
                parsed = convert.json_page(page)
            if parsed is not None:
                return parsed
            # a 200 whose body was not the JSON asked for (a proxy's page): a read, so sent again
        raise ServiceUnavailable(SERVICE, "answered with a body that is not JSON, several times", setting=URL_SETTING)

    def _send(self, send: Any) -> Any:
        self.requests += 1
        try:
            answer = send()
        except (DealsApiException, AssociationsApiException) as exc:
            count_call("hubspot", exc.status or "error")
            raise convert.translate(exc) from exc
        except urllib3.exceptions.HTTPError as exc:
            count_call("hubspot", "error")
            reason = getattr(exc, "reason", None) or exc
            error = (
                ServiceUnreachable if isinstance(reason, urllib3.exceptions.NewConnectionError) else ServiceUnavailable
            )
            raise error(SERVICE, f"cannot reach HubSpot ({type(reason).__name__})", setting=URL_SETTING) from exc
        count_call("hubspot", 200)
        return answer


def _counted(deal: Deal, query: DealQuery) -> bool:
    """Whether a deal is in the stages (and pipelines) of one of the query's filters, compared as
    translation compares them (without regard to case, as HubSpot's search does)."""
    return any(deal_counts(deal, f) for f in query.filters)
