"""The only writer: executes a Plan against Schematic and records ownership.

Ownership is recorded before each create (an intent with a unique token, also written
into the override's note) and confirmed after; a create whose response is lost is
found again by its token, never sent twice. Each change succeeds or fails on its own;
an unreachable API or rejected key stops the rest (nothing half-written is left unknown).
Called only by the reconcile use case (service/reconcile.py), under the companies' leases.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from crmsync import progress
from crmsync.domain import Action, Change, DesiredOverride, OverrideId
from crmsync.errors import AuthError, RequestRejected, ServiceError, ServiceUnreachable
from crmsync.logs import logged_change
from crmsync.reconcile.plan import value_json
from crmsync.schematic.transport import OutcomeUnknown
from crmsync.service.ownership import sources_of
from crmsync.service.sync import TOKEN_MARK, Context, token_in
from crmsync.store.repository import ChangeResult, LedgerConflict

NOTE_LIMIT = 900


@dataclass
class ApplyReport:
    """What an apply did."""

    results: list[ChangeResult] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)  # ledger-only records (adopt, release, forget)
    busy: list[str] = field(default_factory=list)  # companies another process held until the wait ran out
    recorder: Callable[[ChangeResult], None] | None = field(default=None, repr=False, compare=False)  # each result
    refused: list[str] = field(default_factory=list)  # companies whose fresh re-plan a guard refused
    stopped: str = ""  # why the remaining changes were not attempted
    not_attempted: int = 0

    def add(self, result: ChangeResult) -> None:
        """One change's outcome (told to the recorder at once, so a killed run still shows it)."""
        self.results.append(result)
        progress.emit(progress.WriteDone(result.ok))
        if self.recorder is not None:
            self.recorder(result)

    @property
    def failed(self) -> list[ChangeResult]:
        """The changes that did not succeed."""
        return [r for r in self.results if not r.ok]

    @property
    def ok(self) -> bool:
        """True when every change succeeded and nothing was left out."""
        return not self.failed and not self.stopped and not self.busy and not self.refused


def apply_changes(
    ctx: Context, changes: Sequence[Change], report: ApplyReport, *, before_each: Callable[[], None] | None = None
) -> None:
    """Execute changes in order, each on its own, into `report`. The caller holds the leases of their
    companies and has re-read those companies (service/reconcile.py); `before_each` renews the leases.
    An unreachable API or a rejected key stops the rest (counted as not attempted)."""
    for index, change in enumerate(changes):
        if before_each is not None:
            before_each()
        try:
            override_id = _execute(ctx, change)
            report.add(_result(change, override_id, ok=True))
        except (AuthError, ServiceUnreachable) as exc:
            report.add(_result(change, None, ok=False, message=str(exc)))
            report.not_attempted += len(changes) - index - 1
            report.stopped = f"{exc}; {report.not_attempted} remaining change(s) not attempted"
            return
        except (ServiceError, LedgerConflict) as exc:
            report.add(_result(change, None, ok=False, message=str(exc)))


@logged_change  # one `change` log event per change: action, ids, result, duration
def _execute(ctx: Context, change: Change) -> OverrideId | None:
    if change.action is Action.DELETE:
        assert change.before is not None
        ctx.schematic.delete_override(change.before.id)  # already gone (404) counts as done
        ctx.store.record_delete(change.before.id)
        return change.before.id
    assert change.after is not None
    if change.action is Action.UPDATE:
        assert change.before is not None
        note = make_note(change.after, token=ctx.store.token_of(change.before.id))  # the marker stays on it
        ctx.store.mark_update(change.before.id, value_json(change.after.value))
        try:
            ctx.schematic.update_override(change.before.id, change.after.value, note)
        except (RequestRejected, AuthError):
            ctx.store.clear_pending(change.before.id)  # refused: nothing changed
            raise  # any other failure may have changed it: the next run reads Schematic and settles it
        ctx.store.record_update(change.before.id, sources_of(change.after), value_json(change.after.value), note)
        return change.before.id
    return _create(ctx, change.after)


def _create(ctx: Context, want: DesiredOverride) -> OverrideId:
    token = secrets.token_hex(8)
    note = make_note(want, token=token)
    ctx.store.record_intent(token, want.company_id, want.feature_id, sources_of(want), value_json(want.value), note)
    for attempt in (1, 2):
        try:
            created = ctx.schematic.create_override(want.company_id, want.feature_id, want.value, note)
        except OutcomeUnknown as exc:
            found = _find_by_token(ctx, want, token)
            if found is not None:
                ctx.store.confirm(token, found)
                return found
            # Not there. After a complete 5xx answer the server said no: send it once more, with the same
            # token (a later lookup still finds either). After a timeout it may still be in flight: never.
            if exc.status is None or attempt == 2:
                raise  # the intent stays: the next run looks for the token again before creating
            continue
        except ServiceError:
            ctx.store.forget(token)  # rejected: nothing was created
            raise
        ctx.store.confirm(token, created.id)
        return created.id
    raise AssertionError("unreachable")  # the loop returns or raises


def _find_by_token(ctx: Context, want: DesiredOverride, token: str) -> OverrideId | None:
    """After a lost create response: does the override exist after all?"""
    try:
        live = ctx.schematic.list_overrides([want.company_id])
    except ServiceError:
        return None
    for override in live:
        if override.feature_id == want.feature_id and any(token_in(n) == token for n in override.notes):
            return override.id
    return None


def make_note(want: DesiredOverride, *, token: str | None) -> str:
    """The note on every override crmsync writes: crmsync, the CRM, the deals, the rule."""
    by_source: dict[str, list[str]] = {}
    for source, deal in want.provenance.deals:
        by_source.setdefault(source.value, []).append(deal)
    deals = "; ".join(f"{src} deal{'s' if len(ids) > 1 else ''} {', '.join(ids)}" for src, ids in by_source.items())
    rules = ", ".join(f"{r} ({r.feature})" for r in want.provenance.rules)
    note = f"Managed by crmsync from {deals}; rule {rules}. Change the deal, not this override."
    if len(note) > NOTE_LIMIT:
        note = note[: NOTE_LIMIT - 1] + "…"
    return f"{note} {TOKEN_MARK}{token}]" if token else note


def _result(change: Change, override_id: str | None, *, ok: bool, message: str = "") -> ChangeResult:
    return ChangeResult(
        change.action.value,
        change.company_id,
        change.feature_id,
        override_id or (change.before.id if change.before else None),
        ok,
        message,
    )
