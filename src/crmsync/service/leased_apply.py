"""Applying a plan under per-company exclusion, and settling what the last run left unknown.

`LeasedApply.apply()` takes each company's lease (store/leases.py) before its first write, reads the
company's live overrides and ledger rows again under it, applies the plan where nothing changed and
plans the company again from fresh reads where something did (a saved plan refuses instead).
Companies another process holds are retried until the wait runs out, then reported busy.
`settle_lost_answers` records the creates and updates whose answer was lost, as the plan read them.
Called only by the reconcile use case (service/reconcile.py).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

from crmsync.domain import Change, CompanyId, LedgerState, LiveOverride
from crmsync.errors import UnsafePlanError
from crmsync.mapping.rules import Mappings
from crmsync.service.apply import ApplyReport, apply_changes
from crmsync.service.context import Context, PlanRun
from crmsync.service.ownership import record_ownership
from crmsync.service.planning import build_plan
from crmsync.service.safety import refusals, unmanaged_refusal
from crmsync.store.leases import LeaseBook
from crmsync.store.ledger_batch import LedgerBatch
from crmsync.store.repository import Owned
from crmsync.threads import leave_signals_to_main

CHUNK = 100  # companies leased, re-read (one Schematic call: 100 ids at most) and applied together


def settle_lost_answers(ctx: Context, run: PlanRun) -> PlanRun:
    """Settle in the ledger the writes whose answer was lost, as the plan read Schematic: creates whose
    override exists (found by the token in its note) become active, updates that went through record
    their value (and those that did not, nothing pending), even when the plan has nothing else to do."""
    sources = {o.override_id: o.sources for o in run.owned if o.override_id}
    for override_id, value in run.settled.items():
        if value is None:
            ctx.store.clear_pending(override_id)
        else:
            ctx.store.record_update(override_id, sources.get(override_id, ()), value)
    if not run.found_intents:
        return run
    for token, override_id in run.found_intents.items():
        ctx.store.confirm(token, override_id)
    owned = tuple(
        replace(o, status=LedgerState.ACTIVE, override_id=run.found_intents[o.token])
        if o.token in run.found_intents
        else o
        for o in run.owned
    )
    return replace(run, owned=owned, found_intents={})


class LeasedApply:
    """Applies a plan company by company, each under its lease, re-reading each company first."""

    def __init__(
        self,
        ctx: Context,
        run: PlanRun,
        mappings: Mappings | None,
        lock_wait: float,
        run_id: int = 0,
        early: EarlyLeases | None = None,
    ) -> None:
        """`early`: leases taken before the plan read Schematic (serve's scoped runs); their companies'
        live overrides are not read again while the lease has held throughout."""
        self.ctx, self.run, self.mappings, self.lock_wait = ctx, run, mappings, lock_wait
        self.book = early.book if early is not None else LeaseBook(ctx.store, ttl=ctx.lease_ttl)
        self.early = early
        self.ledger = LedgerBatch(ctx.store, run_id)  # the apply's ledger writes, committed in batches
        self.report = ApplyReport(recorder=self.ledger.record_change)
        self.replanned: list[CompanyId] = []

    def apply(self) -> tuple[ApplyReport, tuple[CompanyId, ...]]:
        """Every company of the plan, in the plan's order, waiting (bounded) for busy ones."""
        pending = companies_of(self.run)
        deadline = time.monotonic() + self.lock_wait
        try:
            while pending and not self.report.stopped:
                done = self._round(pending)
                pending = [c for c in pending if c not in done]
                if not pending or self.report.stopped or time.monotonic() >= deadline:
                    break
                if not done:
                    time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        finally:
            self.book.release()
        if not self.report.stopped:
            self.report.busy.extend(pending)
        else:
            self.report.not_attempted += sum(len(self._changes_of(c)) for c in pending)
        return self.report, tuple(self.replanned)

    def _round(self, pending: Sequence[CompanyId]) -> set[CompanyId]:
        """One pass over the pending companies, CHUNK at a time: while a chunk is written, the next one
        is leased and re-read (a reader thread), so the writers wait for no re-read."""
        done: set[CompanyId] = set()
        chunks = [pending[start : start + CHUNK] for start in range(0, len(pending), CHUNK)]
        with ThreadPoolExecutor(1, thread_name_prefix="crmsync-reread", initializer=leave_signals_to_main) as reader:
            ahead = self._lease_and_read(reader, chunks, 0)
            for index in range(len(chunks)):
                names, held, reading = ahead
                try:
                    if reading is None:
                        ahead = self._lease_and_read(reader, chunks, index + 1)
                        continue
                    live_now = reading.result()
                    ahead = self._lease_and_read(reader, chunks, index + 1)
                    self._apply_held(held, live_now)
                finally:
                    self.book.release(names)
                done.update(held)
                if self.report.stopped:
                    break  # the leases taken ahead are released with the rest (apply)
        return done

    def _lease_and_read(
        self, reader: ThreadPoolExecutor, chunks: Sequence[Sequence[CompanyId]], index: int
    ) -> tuple[list[str], list[CompanyId], Future[list[LiveOverride]] | None]:
        """Take the leases of a chunk's companies (those free), then start reading their overrides."""
        if index >= len(chunks):
            return [], [], None
        kept = self.early.unbroken(chunks[index]) if self.early is not None else set()
        names = self.book.try_acquire([lease_name(c) for c in chunks[index]])
        held = [c for c in chunks[index] if lease_name(c) in names]
        return names, held, reader.submit(self._live_now, held, kept) if held else None

    def _live_now(self, held: Sequence[CompanyId], kept: Collection[CompanyId]) -> list[LiveOverride]:
        """The live overrides of `held` now: read again, but for the companies leased before the plan
        read them (`kept`): no other crmsync process has written them since, so the plan's read stands."""
        again = [c for c in held if c not in kept]
        planned = [o for o in self.run.live if o.company_id in kept and o.company_id in held]
        return [*planned, *(self.ctx.schematic.list_overrides(again) if again else [])]

    def _apply_held(self, companies: Sequence[CompanyId], live_now: Sequence[LiveOverride]) -> None:
        """Under the leases, read again: apply the plan where nothing changed, re-plan where it did."""
        owned_now = self.ctx.store.owned_of(companies)
        fresh = [c for c in companies if unchanged(c, self.run, live_now, owned_now)]
        stale = [c for c in companies if c not in fresh]
        if fresh:
            self._apply_from(self.run, fresh)
        if stale and not self.report.stopped:
            self._replan(stale)

    def _replan(self, companies: Sequence[CompanyId]) -> None:
        if self.mappings is None:  # a saved plan is applied as it is, or not at all
            self.report.refused.extend(companies)
            return
        fresh = settle_lost_answers(self.ctx, build_plan(self.ctx, self.mappings, scope=frozenset(companies)))
        self.replanned.extend(companies)
        if refusals(self.ctx, fresh, self.ctx.store.owned_of(companies)) or unmanaged_refusal(self.ctx, fresh):
            self.report.refused.extend(companies)
            return
        self._apply_from(fresh, companies)

    def _apply_from(self, run: PlanRun, companies: Sequence[CompanyId]) -> None:
        chosen = set(companies)
        for token, override_id in run.found_intents.items():
            row = next((o for o in run.owned if o.token == token), None)
            if row is not None and row.company_id in chosen:
                self.ctx.store.confirm(token, override_id)
        # Intents read under these leases whose token Schematic does not hold (the earlier holder's lease
        # expired, by the database's clock): a create of the pair may replace them. No other intent.
        self.ledger.replaceable(
            o.token
            for o in run.owned
            if o.company_id in chosen and o.status == LedgerState.INTENT and o.token not in run.found_intents
        )
        plan = run.plan
        part = replace(
            plan,
            changes=tuple(c for c in plan.changes if c.company_id in chosen),
            adoptions=tuple(a for a in plan.adoptions if a.key[0] in chosen),
            drift=tuple(d for d in plan.drift if d.company_id in chosen),
        )
        self.report.recorded.extend(record_ownership(self.ctx.store, part))
        apply_changes(self.ctx, part.changes, self.report, before_each=self._renew, ledger=self.ledger)

    def _renew(self) -> None:
        lost = self.book.renew_due()
        if lost:  # only after a stall longer than the lease: another process may be writing them now
            raise UnsafePlanError(f"lost the lease of {', '.join(lost)} while applying; stopped")

    def _changes_of(self, company: CompanyId) -> list[Change]:
        return [c for c in self.run.plan.changes if c.company_id == company]


class EarlyLeases:
    """Company leases taken before a scoped plan reads Schematic, so that the apply that follows need
    not read the companies' live overrides again (on serve's path of one webhook: a round trip less)."""

    def __init__(self, ctx: Context, companies: Collection[CompanyId]) -> None:
        self.book = LeaseBook(ctx.store, ttl=ctx.lease_ttl)
        names = self.book.try_acquire([lease_name(c) for c in sorted(companies)])
        self.taken = {CompanyId(n.removeprefix("company:")) for n in names}

    def unbroken(self, companies: Iterable[CompanyId]) -> set[CompanyId]:
        """Those of `companies` leased early whose lease cannot have lapsed since: taken or renewed
        less than half its time ago (a slower plan reads them again under the lease, as any run)."""
        now = self.book.elapsed()
        fresh = {n for n, at in self.book.held.items() if now - at < self.book.ttl / 2}
        return {c for c in companies if c in self.taken and lease_name(c) in fresh}

    def release(self) -> None:
        """Give the leases up (the apply releases them itself; this is for a run that writes nothing)."""
        self.book.release()


def lease_name(company: CompanyId) -> str:
    """The lease that guards one company's writes."""
    return f"company:{company}"


def companies_of(run: PlanRun) -> list[CompanyId]:
    """The companies a plan writes or records something for, in the plan's order."""
    plan = run.plan
    order: dict[CompanyId, None] = {}
    for company in (
        *(c.company_id for c in plan.changes),
        *(a.key[0] for a in plan.adoptions if a.auto),
        *(d.company_id for d in plan.drift),
    ):
        order.setdefault(company, None)
    return list(order)


def unchanged(company: CompanyId, run: PlanRun, live_now: Iterable[LiveOverride], owned_now: Iterable[Owned]) -> bool:
    """True when a company's live overrides and ledger rows are what the plan was computed from."""
    then_live = {o for o in run.live if o.company_id == company}
    now_live = {o for o in live_now if o.company_id == company}
    then_owned = {_row(o) for o in run.owned if o.company_id == company}
    now_owned = {_row(o) for o in owned_now if o.company_id == company}
    return then_live == now_live and then_owned == now_owned


def _row(owned: Owned) -> tuple[str, str | None, str, str]:
    return (owned.token, owned.override_id, owned.feature_id, owned.status.value)
