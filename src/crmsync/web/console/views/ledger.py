"""Problems, the Owned overrides ledger and its CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterator

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from crmsync.logs import get_logger
from crmsync.service.console_reads import LedgerRow
from crmsync.web.console.pages import actor_of, console_of, render
from crmsync.web.console.permissions import Action, ensure

log = get_logger("crmsync.web.console")
MAX_CSV_ROWS = 1_000_000  # an export stops here (and says so in its last line)
FORMULA = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run a cell starting with these


async def problems(request: Request) -> Response:
    """Conflicts (with adopt), drift, pending companies, deal errors and withheld changes."""
    found = await run_in_threadpool(console_of(request).data.problems)
    return render(request, "problems.html", problems=found)


async def owned(request: Request) -> Response:
    """The ledger, filtered by company and feature, a page at a time."""
    q = request.query_params
    filters = {k: q.get(k, "").strip()[:128] for k in ("company", "feature")}
    page = await run_in_threadpool(lambda: console_of(request).data.ledger(after=q.get("after", ""), **filters))
    return render(request, "owned.html", page=page, filters=filters)


async def owned_csv(request: Request) -> Response:
    """The filtered ledger as CSV, streamed in keyset batches (spreadsheet formulas defused)."""
    actor = ensure(actor_of(request), Action.EXPORT)
    q = request.query_params
    company, feature = q.get("company", "").strip()[:128], q.get("feature", "").strip()[:128]
    log.info("console.ledger_exported", actor=actor.id, company=company, feature=feature)
    rows = console_of(request).data.ledger_batches(company=company, feature=feature)
    headers = {"content-disposition": 'attachment; filename="crmsync-owned-overrides.csv"'}
    return StreamingResponse(_csv(rows), media_type="text/csv; charset=utf-8", headers=headers)


async def _csv(batches: Iterator[list[LedgerRow]]) -> AsyncIterator[str]:
    """The header, then one chunk per keyset batch (read in a thread, so the event loop never waits)."""
    columns = ("override_id", "company_id", "company", "feature_id", "status", "sources", "value", "updated_at")
    yield _line(columns)
    count = 0
    async for batch in iterate_in_threadpool(batches):
        if count + len(batch) > MAX_CSV_ROWS:
            yield _line((f"# stopped after {MAX_CSV_ROWS} rows: narrow the filters",))
            return
        count += len(batch)
        yield "".join(_line((r.override_id or "", r.company_id, r.company, r.feature_id, r.status, r.sources,
                             r.shown, r.updated_at.isoformat())) for r in batch)  # fmt: skip


def _line(cells: tuple[str, ...]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([("'" + c) if c.startswith(FORMULA) else c for c in cells])
    return out.getvalue()
