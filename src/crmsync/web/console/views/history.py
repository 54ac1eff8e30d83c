"""Overview, Runs and one run's page: what crmsync did, when, why and for whom."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crmsync.domain import RunStatus, Trigger
from crmsync.web.console.pages import console_of, error_page, render


async def overview(request: Request) -> Response:
    """The last runs, each source's last success, the intake's depth and the open problems."""
    data = await run_in_threadpool(console_of(request).data.overview)
    return render(request, "overview.html", overview=data)


async def runs(request: Request) -> Response:
    """Runs newest first, filtered by status, trigger and actor, a page at a time."""
    q = request.query_params
    filters = {k: q.get(k, "").strip()[:64] for k in ("status", "trigger", "actor")}
    page = await run_in_threadpool(lambda: console_of(request).data.runs(before=q.get("before", ""), **filters))
    return render(request, "runs.html", page=page, filters=filters,
                  statuses=[s.value for s in RunStatus], triggers=[t.value for t in Trigger])  # fmt: skip


async def run(request: Request) -> Response:
    """One run: each change with its result, refusals, warnings, who started it."""
    run_id = request.path_params["run_id"]
    # Starlette's int converter takes any number of digits; past the database's integer it would fail.
    detail = await run_in_threadpool(console_of(request).data.run, run_id) if run_id < 2**63 else None
    if detail is None:
        return error_page(request, 404, "No such run", f"There is no run #{run_id}.")
    return render(request, "run.html", detail=detail)
