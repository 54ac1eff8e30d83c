"""Operators' actions: adopt a conflict, release an override, reconcile a company now, approve what a
guard withheld. Each is a GET confirm page saying what will happen, then a POST that checks the
permission again, acts through the service as the request's actor (recorded with the run, in the same
transaction as the change), and redirects (303) with a flash message. A viewer gets 403 on both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crmsync.domain import CompanyId, Trigger
from crmsync.errors import CrmsyncError
from crmsync.logs import get_logger
from crmsync.service.approve import approve
from crmsync.service.manage import adopt, release
from crmsync.service.reconcile import Mode, reconcile
from crmsync.service.reconcile import Request as Reconcile
from crmsync.web.console.pages import actor_of, console_of, error_page, redirect, render
from crmsync.web.console.permissions import Action, Actor, ensure

log = get_logger("crmsync.web.console")
WHAT = {
    "adopt": (Action.ADOPT, "Adopt", "crmsync records the override standing there as its own (ledger only; nothing "
              "is written to Schematic now). The next apply updates it to what the deals say."),
    "release": (Action.RELEASE, "Release", "crmsync stops managing this override. It is not deleted and its value "
                "stays (a release note is added to it); the pair is not re-created until someone adopts it again."),
    "reconcile": (Action.RECONCILE, "Reconcile now", "crmsync plans this company from fresh reads and applies the "
                  "changes (the guards still apply)."),
    "approve": (Action.APPROVE, "Approve withheld changes", "crmsync plans from fresh reads of the CRMs and applies "
                "now, this once, the changes a guard withheld (the deletes and downgrades listed on Problems; the "
                "guards allow the mass change for this run only). The run records you as who approved it."),
}  # fmt: skip
FIELDS = ("company", "feature", "override")


async def confirm(request: Request) -> Response:
    """What the action will do, with the button that does it."""
    kind = request.path_params["kind"]
    if kind not in WHAT:
        return error_page(request, 404, "No such action", f"There is no action {kind!r}.")
    action, title, explanation = WHAT[kind]
    ensure(actor_of(request), action)
    target = {k: request.query_params.get(k, "")[:64] for k in FIELDS}
    withheld = (await run_in_threadpool(console_of(request).data.problems)).withheld if kind == "approve" else ()
    return render(request, "confirm.html", kind=kind, title=title, explanation=explanation, target=target,
                  withheld=withheld)  # fmt: skip


async def act(request: Request) -> Response:
    """Do the action as the request's actor, then redirect to the run it recorded."""
    kind = request.path_params["kind"]
    if kind not in WHAT:
        return error_page(request, 404, "No such action", f"There is no action {kind!r}.")
    actor = ensure(actor_of(request), WHAT[kind][0])
    form = await request.form(max_files=0, max_fields=10)
    target = {k: str(form.get(k, ""))[:64].strip() for k in FIELDS}
    console = console_of(request)
    try:
        message, where = await run_in_threadpool(_do, kind, target, actor, console.workspace)
    except CrmsyncError as exc:
        log.warning("console.action_refused", action=kind, actor=actor.id, reason=str(exc))
        return error_page(request, 400, f"{WHAT[kind][1]}: not done", str(exc))
    log.info("console.action", action=kind, actor=actor.id, via=actor.via, result=message)
    return redirect(request, where, message)


def _do(kind: str, target: dict[str, str], actor: Actor, workspace: Callable[[], Any]) -> tuple[str, str]:
    """Act through the service; the message to flash and where to go next."""
    with workspace() as (ctx, maps):
        ctx = replace(ctx, actor=actor.id)
        if kind == "release":
            if not target["override"]:
                raise CrmsyncError("name the override to release")
            released = release(ctx, [target["override"]], None, None, trigger=Trigger.CONSOLE)
            return f"Released {len(released.rows)} override(s): crmsync no longer manages them.", "/runs"
        if kind == "approve":  # every company, or the one named
            outcome = approve(ctx, maps, actor.id, [target["company"]] if target["company"] else None)
            if outcome.run_id is None:
                raise CrmsyncError(f"nothing applied ({outcome.status.value}): another run holds the lock; try again")
            return f"Approved by {actor.id}: run #{outcome.run_id} {outcome.status.value}.", f"/runs/{outcome.run_id}"
        if not target["company"]:
            raise CrmsyncError("name the company")
        if kind == "adopt":
            done = adopt(ctx, maps, target["company"], target["feature"] or None, trigger=Trigger.CONSOLE)
            if not done.adopted and not done.resumed:
                raise CrmsyncError("nothing to adopt there any more (the conflict was resolved meanwhile)")
            return f"Adopted {len(done.adopted)} override(s), resumed {len(done.resumed)}.", "/runs"
        scope = frozenset({CompanyId(target["company"])})
        outcome = reconcile(ctx, maps, Reconcile(Trigger.CONSOLE, Mode.APPLY, scope=scope))
        return (
            f"Reconciled {target['company']}: run #{outcome.run_id} {outcome.status.value}.",
            f"/runs/{outcome.run_id}",
        )
