"""The part of an apply that runs in the pool's worker threads: one change's HTTP calls to Schematic,
and nothing else (no ledger, no report, no log of the change: the coordinating thread in
service/apply.py does those with the outcome).

A create whose answer is lost is looked for by its token (a list of the company's overrides) and,
after a complete 5xx answer that created nothing, sent once more with the same token; after a
timeout it may still be in flight, so it never is. The rate budget and 429s (Retry-After) are the
transport's (schematic/transport.py): they never reach this module.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from crmsync.domain import Action, Change, DesiredOverride, OverrideId
from crmsync.errors import ServiceError
from crmsync.reconcile.note import note_token
from crmsync.schematic.client import SchematicClient
from crmsync.schematic.transport import OutcomeUnknown


@dataclass
class Step:
    """One change on its way: prepared (ledger) by the coordinator, sent by a worker."""

    change: Change
    note: str = ""
    token: str | None = None  # a create's token (its intent's), also in `note`
    started: float = 0.0  # monotonic, set by the worker
    finished: float = 0.0

    @property
    def duration_ms(self) -> float:
        """How long its calls took (0 when never sent)."""
        return round(max(0.0, self.finished - self.started) * 1000, 1)


def send(schematic: SchematicClient, step: Step) -> OverrideId:
    """Make one change in Schematic; its override's id. Raises the transport's ServiceErrors."""
    step.started = time.monotonic()
    try:
        return _send(schematic, step)
    finally:
        step.finished = time.monotonic()


def _send(schematic: SchematicClient, step: Step) -> OverrideId:
    change = step.change
    if change.action is Action.DELETE:
        assert change.before is not None
        schematic.delete_override(change.before.id)  # already gone (404) counts as done
        return change.before.id
    assert change.after is not None
    if change.action is Action.UPDATE:
        assert change.before is not None
        schematic.update_override(change.before.id, change.after.value, step.note)
        return change.before.id
    assert step.token is not None
    return _create(schematic, change.after, step.note, step.token)


def _create(schematic: SchematicClient, want: DesiredOverride, note: str, token: str) -> OverrideId:
    for attempt in (1, 2):
        try:
            return schematic.create_override(want.company_id, want.feature_id, want.value, note).id
        except OutcomeUnknown as exc:
            found = find_by_token(schematic, want, token)
            if found is not None:
                return found
            # Not there. After a complete 5xx answer the server said no: send it once more, with the same
            # token (a later lookup still finds either). After a timeout it may still be in flight: never.
            if exc.status is None or attempt == 2:
                raise  # the intent stays: the next run looks for the token again before creating
    raise AssertionError("unreachable")  # the loop returns or raises


def find_by_token(schematic: SchematicClient, want: DesiredOverride, token: str) -> OverrideId | None:
    """After a lost create response: does the override exist after all?"""
    try:
        live = schematic.list_overrides([want.company_id])
    except ServiceError:
        return None
    for override in live:
        if override.feature_id == want.feature_id and any(note_token(n) == token for n in override.notes):
            return override.id
    return None
