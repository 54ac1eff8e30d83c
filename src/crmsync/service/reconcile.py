"""The one reconcile use case: "reconcile these companies, this way, because of this trigger".

`reconcile()` plans (reads only), judges the guards, asks the caller's `review` (a person at a
prompt, or nobody), applies under per-company leases, records the run and the per-source baselines,
and returns a typed `Outcome`. The CLI commands, the demo, saved plans, the tests and `serve` all
call it; none of them chains plan → guards → apply → record on its own.

Exclusion: no two processes write the same company at once. Before a company's first write its
lease is taken (store/leases.py); under it the company's live overrides and ledger rows are read
again, and if anything changed since the plan (another process applied it, a person released an
override), that company is planned again from fresh reads instead of applied from the old plan —
so a plan made before the lock can never re-create what another process just made. A saved plan
is exact: it is refused instead. Companies another process holds are retried until `lock_wait`
runs out, then skipped and reported as busy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from crmsync.domain import CompanyId, RunStatus, Trigger
from crmsync.errors import CrmsyncError, UnsafePlanError
from crmsync.log_events import log_run
from crmsync.mapping.rules import Mappings
from crmsync.reconcile.notices import Refusal, RefusalKind
from crmsync.reconcile.planfile import SavedPlan, decode
from crmsync.service import guard_window
from crmsync.service.apply import ApplyReport
from crmsync.service.context import Context, PlanRun
from crmsync.service.edit import EditPlan, edit_plan
from crmsync.service.history import finish_run, heartbeat
from crmsync.service.leased_apply import CHUNK, EarlyLeases, LeasedApply, settle_lost_answers
from crmsync.service.planning import build_plan, build_plans
from crmsync.service.safety import refusals, remember_counts, unmanaged_refusal
from crmsync.service.saved import load_plan
from crmsync.store.leases import LeaseBook


class Mode(StrEnum):
    """What a reconcile does."""

    PLAN = "plan"  # compute and record the plan; write nothing
    APPLY = "apply"  # plan, then apply (after `review`, when given)
    APPLY_SAVED = "apply-saved"  # apply exactly a plan saved by `crmsync plan --out`


@dataclass(frozen=True)
class SavedDocument:
    """A saved plan's decoded JSON and where it came from (for messages)."""

    doc: Any
    where: str


@dataclass(frozen=True)
class Request:
    """Why, what and how to reconcile."""

    trigger: Trigger
    mode: Mode
    scope: frozenset[CompanyId] | None = None  # None: every company
    allow_mass_change: bool = False  # this run only: no guard refuses, no delete is withheld
    saved: SavedDocument | None = None  # with Mode.APPLY_SAVED
    lock_wait: float = 30.0  # seconds to wait for companies another process is reconciling
    base: BaseMappings | None = None  # with Mode.PLAN: also plan these mappings and split out the edit


@dataclass(frozen=True)
class BaseMappings:
    """The mappings an edit started from (`plan --base`), and how the user named them."""

    mappings: Mappings
    label: str


@dataclass
class Outcome:
    """How a reconcile ended, for the entry point to word."""

    status: RunStatus
    run: PlanRun | None
    run_id: int | None = None
    report: ApplyReport | None = None
    refusals: tuple[Refusal, ...] = ()  # why an apply was (or would be) refused
    replanned: tuple[CompanyId, ...] = ()  # companies planned again under their lease (changed meanwhile)
    applied_by: dict[str, Any] = field(default_factory=dict)  # a saved plan's earlier run: id, when
    actor: str = ""  # who started the run (recorded with it)
    edit: EditPlan | None = None  # with a base: the edit's changes apart from the pending ones

    @property
    def ok(self) -> bool:
        """True when the run did all it set out to (the serve worker retries the companies otherwise)."""
        return self.status is RunStatus.OK

    @property
    def refused(self) -> bool:
        """True when nothing was written because a guard or a stale saved plan refused."""
        return self.status is RunStatus.REFUSED

    def reason(self, first: int = 3) -> dict[str, Any]:
        """Why the run was not ok, as log fields (never an object dump): status, run id, refusal kinds
        and the first refusal's words, counts of failed and skipped changes, and the first errors."""
        fields: dict[str, Any] = {"status": self.status.value}
        if self.run_id is not None:
            fields["run_id"] = self.run_id
        if self.refusals:
            fields.update(refusals=[r.kind.value for r in self.refusals], refusal=self.refusals[0].message)
        report = self.report
        if report is not None:
            fields.update(failed=len(report.failed), busy=len(report.busy), not_attempted=report.not_attempted)
            if report.failed:
                fields["errors"] = [f"{r.company_id}/{r.feature_id}: {r.message}"[:200] for r in report.failed[:first]]
            if report.stopped:
                fields["stopped"] = report.stopped
        return fields


Review = Callable[[PlanRun, Sequence[Refusal]], bool]  # shown the plan before any write; False declines


def reconcile(ctx: Context, mappings: Mappings | None, request: Request, review: Review | None = None) -> Outcome:
    """Plan, guard, review, apply under leases and record; see the module docstring. Logs `run.started`
    and `run.finished` (status, counts, duration)."""
    scope = "all" if request.scope is None else len(request.scope)
    with log_run(request.mode.value, request.trigger.value, scope=scope) as end:
        outcome = _reconcile(ctx, mappings, request, review)
        end.update(status=outcome.status.value, run_id=outcome.run_id)
        if outcome.run is not None:
            end.update(outcome.run.plan.summary())
        if outcome.report is not None:
            end.update(failed=len(outcome.report.failed), busy=len(outcome.report.busy))
        if outcome.refusals:
            end.update(refusals=[r.kind.value for r in outcome.refusals])
        return outcome


def _reconcile(ctx: Context, mappings: Mappings | None, request: Request, review: Review | None) -> Outcome:
    if request.allow_mass_change:
        ctx = replace(ctx, guards=replace(ctx.guards, allow_mass_change=True))
    if request.mode is Mode.APPLY_SAVED:
        if request.saved is None:
            raise ValueError("Mode.APPLY_SAVED needs request.saved")
        return _apply_saved(ctx, request, review)
    if mappings is None:
        raise ValueError("a plan or apply needs the mapping files")
    command = "plan" if request.mode is Mode.PLAN else "apply"
    ctx.store.close_dead_runs()  # runs a killed process left `running` show as interrupted
    run_id = ctx.store.start_run(command, request.trigger, lease_s=ctx.lease_ttl, actor=ctx.actor)
    # A scoped apply (serve's, a few companies) leases them before it plans: what the plan reads of
    # Schematic then stands until the write, which need not read it again (leased_apply.py).
    early = None
    if request.mode is Mode.APPLY and request.scope is not None and 0 < len(request.scope) <= CHUNK:
        early = EarlyLeases(ctx, request.scope)
    try:
        with heartbeat(ctx.store, run_id, ctx.lease_ttl / 3):
            return _plan_and_apply(ctx, mappings, request, review, run_id, early)
    finally:
        if early is not None:
            early.release()


def _plan_and_apply(
    ctx: Context, mappings: Mappings, request: Request, review: Review | None, run_id: int, early: EarlyLeases | None
) -> Outcome:
    run: PlanRun | None = None
    try:
        if request.base is not None and request.mode is Mode.PLAN:
            base = request.base
            runs = build_plans(ctx, mappings, scope=request.scope, base=base.mappings)
            edit = edit_plan(ctx, runs, base.label)  # split before the window withholds: what the edit changes
            found = tuple(refusals(ctx, runs.head))
            run = runs.head if found else guard_window.preview(ctx, runs.head)  # as a plain plan: what is withheld
            return replace(_finish(ctx, run_id, RunStatus.OK, run, refusals=found), edit=replace(edit, head=run))
        run = build_plan(ctx, mappings, scope=request.scope)
        found = tuple(refusals(ctx, run))
        if request.mode is Mode.PLAN:
            run = run if found else guard_window.preview(ctx, run)
            return _finish(ctx, run_id, RunStatus.OK, run, refusals=found)
        if found:  # an empty ledger facing crmsync's markers refuses even an empty plan
            return _finish(ctx, run_id, RunStatus.REFUSED, run, refusals=found)
        run = settle_lost_answers(ctx, run)
        run = guard_window.preview(ctx, run)  # what review sees: withheld as a whole past the window's budget
        if run.plan.is_empty:
            remember_counts(ctx, run)  # an apply with nothing to do is a successful apply too
            return _finish(ctx, run_id, RunStatus.OK, run)
        if review is not None and not review(run, found):
            return _finish(ctx, run_id, RunStatus.DECLINED, run)
        # No whole-plan "no longer manages" refusal here: a company another run (or a release) moved
        # since the plan is seen under its lease and planned again (LeasedApply); only a saved plan refuses.
        run, reservation = guard_window.reserve(ctx, run, run_id)  # judged again, and booked, just before writing
        report, replanned = LeasedApply(ctx, run, mappings, request.lock_wait, run_id, early).apply()
        guard_window.settle(reservation, run, report)
        status = _status(report)
        if status is RunStatus.OK:
            remember_counts(ctx, run)
        return _finish(ctx, run_id, status, run, report=report, replanned=replanned)
    except BaseException as exc:
        _close_unfinished(ctx, run_id, run, exc)
        raise


def _apply_saved(ctx: Context, request: Request, review: Review | None) -> Outcome:
    """Apply exactly a saved plan: once, only while Schematic still holds what it was computed from."""
    assert request.saved is not None
    saved_doc, where = request.saved.doc, request.saved.where
    saved = decode(saved_doc, where)
    checksum = saved.plan.checksum()
    earlier = ctx.store.run_of_plan(checksum, (RunStatus.OK,))
    if earlier is not None:
        refusal = Refusal(
            RefusalKind.ALREADY_APPLIED,
            f"already applied by run #{earlier.id} at {earlier.started_at:%Y-%m-%d %H:%M:%S} UTC",
        )
        return _record_saved_refusal(ctx, checksum, refusal, {"run": earlier.id})
    book = LeaseBook(ctx.store, ttl=ctx.lease_ttl)
    if not book.try_acquire([f"plan:{checksum}"]):
        refusal = Refusal(RefusalKind.BEING_APPLIED, "another process is applying this plan right now")
        return _record_saved_refusal(ctx, checksum, refusal)
    try:
        try:
            run, _ = load_plan(ctx, saved)
        except UnsafePlanError as exc:
            return _record_saved_refusal(ctx, checksum, Refusal(RefusalKind.STALE_PLAN, str(exc)))
        return _apply_loaded(ctx, run, saved, request, review, checksum)
    finally:
        book.release()


def _apply_loaded(
    ctx: Context, run: PlanRun, saved: SavedPlan, request: Request, review: Review | None, checksum: str
) -> Outcome:
    run_id = ctx.store.start_run(
        "apply", request.trigger, plan_checksum=checksum, lease_s=ctx.lease_ttl, actor=ctx.actor
    )
    with heartbeat(ctx.store, run_id, ctx.lease_ttl / 3):
        return _apply_checked(ctx, run, saved, request, review, run_id)


def _apply_checked(
    ctx: Context, run: PlanRun, saved: SavedPlan, request: Request, review: Review | None, run_id: int
) -> Outcome:
    checksum = saved.plan.checksum()
    extra = {"plan_checksum": checksum, "names": dict(run.plan.names)}
    try:
        found = tuple(refusals(ctx, run))
        unmanaged = unmanaged_refusal(ctx, run)
        found += (unmanaged,) if unmanaged else ()
        if found:
            return _finish(ctx, run_id, RunStatus.REFUSED, run, refusals=found, extra=extra)
        if run.plan.is_empty:
            return _finish(ctx, run_id, RunStatus.OK, run, extra=extra)
        if review is not None and not review(run, found):
            return _finish(ctx, run_id, RunStatus.DECLINED, run, extra=extra)
        report, _ = LeasedApply(ctx, run, None, request.lock_wait, run_id).apply()
        status = _status(report)
        if status is RunStatus.OK and saved.deals:
            ctx.store.save_source_counts(dict(saved.deals))
        return _finish(ctx, run_id, status, run, report=report, extra=extra)
    except BaseException as exc:
        _close_unfinished(ctx, run_id, run, exc)
        raise


def _status(report: ApplyReport) -> RunStatus:
    if report.failed or report.stopped:
        return RunStatus.FAILED
    if report.refused:
        return RunStatus.REFUSED
    return RunStatus.BUSY if report.busy else RunStatus.OK


def _finish(
    ctx: Context,
    run_id: int,
    status: RunStatus,
    run: PlanRun,
    *,
    report: ApplyReport | None = None,
    refusals: Sequence[Refusal] = (),
    replanned: Sequence[CompanyId] = (),
    extra: dict[str, Any] | None = None,
) -> Outcome:
    reasons = [str(r) for r in refusals] if status is RunStatus.REFUSED else []
    details = {"refusals": [r.to_json() for r in refusals]} if refusals else {}
    finish_run(ctx, run_id, status, run, report, reasons=reasons, extra={**details, **(extra or {})})
    return Outcome(status, run, run_id, report, tuple(refusals), tuple(replanned), actor=ctx.actor)


def _record_saved_refusal(
    ctx: Context, checksum: str, refusal: Refusal, applied_by: dict[str, Any] | None = None
) -> Outcome:
    run_id = ctx.store.start_run("apply", Trigger.SAVED_PLAN, plan_checksum=checksum, actor=ctx.actor)
    finish_run(ctx, run_id, RunStatus.REFUSED, None, reasons=[str(refusal)], extra={"plan_checksum": checksum})
    return Outcome(RunStatus.REFUSED, None, run_id, refusals=(refusal,), applied_by=applied_by or {}, actor=ctx.actor)


def _close_unfinished(ctx: Context, run_id: int, run: PlanRun | None, exc: BaseException) -> None:
    """A run that ends on an exception is recorded as failed (interrupted on a signal), best effort."""
    status = RunStatus.INTERRUPTED if isinstance(exc, KeyboardInterrupt | SystemExit) else RunStatus.FAILED
    reason = str(exc) if isinstance(exc, CrmsyncError) else type(exc).__name__
    with contextlib.suppress(CrmsyncError):  # the state database itself may be what failed: the original error matters
        finish_run(ctx, run_id, status, run, reasons=[reason] if reason else [])
