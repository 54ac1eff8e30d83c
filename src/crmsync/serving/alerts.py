"""Alerts for `crmsync serve`: one message when runs start failing and one when they recover, never
one per change or per failed run in a row. Each message names the run, its trigger, its counts and
its first errors.

Whether the last run failed is kept in the state database (as the `alert:state` cursor), so several
replicas share it: a failure seen by one and a recovery seen by another make one pair of messages.
Called by the serve worker after each reconcile; `send` is the Slack edge (notify/slack.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from crmsync.domain import RunStatus, Trigger
from crmsync.logs import get_logger
from crmsync.safe_text import shown
from crmsync.service.reconcile import Outcome
from crmsync.store.repository import Store

log = get_logger("crmsync.alerts")
STATE = "alert:state"
FIRST_ERRORS = 3
FAILING = (RunStatus.FAILED, RunStatus.REFUSED)


@dataclass(frozen=True)
class RunFacts:
    """What an alert says about a run."""

    run_id: int | None
    trigger: Trigger
    status: RunStatus
    counts: dict[str, int]
    errors: tuple[str, ...]

    @classmethod
    def of(cls, outcome: Outcome, trigger: Trigger, errors: Sequence[str] = ()) -> RunFacts:
        """The facts of a reconcile's outcome (`errors`: extra lines, e.g. an exception's)."""
        counts: dict[str, int] = {}
        lines = list(errors)
        if outcome.run is not None:
            counts |= outcome.run.plan.summary() | {"deal errors": len(outcome.run.plan.problems)}
        if outcome.report is not None:
            counts |= {"failed": len(outcome.report.failed), "busy": len(outcome.report.busy)}
            lines += [r.message for r in outcome.report.failed]
            lines += [outcome.report.stopped] if outcome.report.stopped else []
        lines += [str(r) for r in outcome.refusals]
        return cls(outcome.run_id, trigger, outcome.status, counts, tuple(lines))


def failure_text(facts: RunFacts) -> str:
    """The failure message: run, trigger, counts, the first errors."""
    counts = ", ".join(f"{n} {k}" for k, n in facts.counts.items() if n) or "no changes"
    head = f":red_circle: crmsync run #{facts.run_id} ({facts.trigger.value}) {facts.status.value}: {counts}."
    # an error quoting a name from outside could otherwise start a line of its own in the message
    first = [f"• {shown(e[:300])}" for e in facts.errors[:FIRST_ERRORS]]
    more = len(facts.errors) - FIRST_ERRORS
    tail = [f"… and {more} more (crmsync status)"] if more > 0 else []
    return "\n".join([head, *first, *tail])


def recovery_text(facts: RunFacts) -> str:
    """The recovery message."""
    counts = ", ".join(f"{n} {k}" for k, n in facts.counts.items() if n) or "no changes"
    return f":large_green_circle: crmsync recovered: run #{facts.run_id} ({facts.trigger.value}) ok: {counts}."


class Alerter:
    """Sends a message on the first failing run and on the first good run after failures."""

    def __init__(self, store: Store, send: Callable[[str], bool]) -> None:
        self.store, self.send = store, send

    def observe(self, facts: RunFacts) -> str | None:
        """Record a run's outcome; the message sent, if any (busy and declined runs change nothing)."""
        failing = facts.status in FAILING
        if not failing and facts.status is not RunStatus.OK:
            return None
        was_failing = self.store.cursor(STATE) == "failing"
        if failing == was_failing:
            return None
        text = failure_text(facts) if failing else recovery_text(facts)
        self.store.save_cursor(STATE, "failing" if failing else "ok")
        sent = self.send(text)
        log.info("alert.sent" if sent else "alert.dropped", kind="failure" if failing else "recovery",
                 run_id=facts.run_id)
        return text
