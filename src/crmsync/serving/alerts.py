"""Alerts for `crmsync serve` on states, not run results: one message when a state begins (an API or the
state database down, runs failing, intake waiting too long, mappings rejected, changes withheld by a guard)
and one when it ends. Whether a state's message went out is kept in the state database (`alert:<state>`),
shared by replicas, and saved only once Slack took it: a refused message is sent again (`retry`, every
health tick), so a Slack outage delays an alert but never drops it or its recovery.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from crmsync.domain import RunStatus, Trigger
from crmsync.logs import get_logger
from crmsync.reconcile.notices import MASS_CHANGE
from crmsync.safe_text import shown
from crmsync.service.reconcile import Outcome
from crmsync.store.repository import Store

log = get_logger("crmsync.alerts")
FIRST_ERRORS = 3
FAILING = (RunStatus.FAILED, RunStatus.REFUSED)
WHAT = {  # how a message names each state
    "schematic": "Schematic API",
    "hubspot": "HubSpot API",
    "salesforce": "Salesforce API",
    "state database": "state database",
    "runs": "reconcile runs",
    "intake": "intake",
    "mappings": "mapping files",
    "withheld": "changes withheld by a guard",
}


@dataclass(frozen=True)
class RunFacts:
    """What an alert says about a run; `withheld` names the guard refusals that held its changes back."""

    run_id: int | None
    trigger: Trigger
    status: RunStatus
    counts: dict[str, int]
    errors: tuple[str, ...]
    withheld: tuple[str, ...] = ()
    full: bool = False  # a run of every company (only such a run shows nothing is withheld any more)

    @classmethod
    def of(cls, outcome: Outcome, trigger: Trigger, errors: Sequence[str] = (), *, full: bool = False) -> RunFacts:
        """The facts of a reconcile's outcome (`errors`: extra lines, e.g. an exception's)."""
        counts: dict[str, int] = {}
        lines = list(errors)
        if outcome.run is not None:
            counts |= outcome.run.plan.summary() | {"deal errors": len(outcome.run.plan.problems)}
        if outcome.report is not None:
            counts |= {"failed": len(outcome.report.failed), "busy": len(outcome.report.busy)}
            lines += [r.message for r in outcome.report.failed]
            lines += [outcome.report.stopped] if outcome.report.stopped else []
        guards = tuple(r.message for r in outcome.refusals if r.kind in MASS_CHANGE)
        if outcome.run is not None:  # a source that shrank or was read in part: its deletes are held back
            guards += tuple(w.message for w in outcome.run.plan.warnings if w.withheld)
        lines += [str(r) for r in outcome.refusals if r.kind not in MASS_CHANGE]
        return cls(outcome.run_id, trigger, outcome.status, counts, tuple(lines), guards, full)

    @property
    def failing(self) -> bool:
        """A run that failed, or was refused for another reason than a guard withholding its changes."""
        return self.status is RunStatus.FAILED or (self.status is RunStatus.REFUSED and not self.withheld)


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


def withheld_text(facts: RunFacts) -> str:
    """Changes a guard withholds under serve: the numbers, and how an operator approves them."""
    lines = [f":warning: crmsync run #{facts.run_id} ({facts.trigger.value}) withheld its changes:"]
    lines += [f"• {shown(w[:300])}" for w in facts.withheld]
    lines.append(
        "Check them with `crmsync plan`, then approve: `curl -X POST -H 'Authorization: Bearer $CRMSYNC_OPS_TOKEN' "
        '-d \'{"scope": "all", "actor": "you@example.com"}\' <serve URL>/approve` (or the console\'s Approve button).'
    )
    return "\n".join(lines)


def run_states(facts: RunFacts) -> list[tuple[str, str | None, str]]:
    """What a run says of the `runs` and `withheld` states: (state, why or None when fine, message)."""
    if facts.status not in (*FAILING, RunStatus.OK):
        return []  # busy or declined: says nothing either way
    states: list[tuple[str, str | None, str]] = []
    if facts.failing:
        head = f"run #{facts.run_id} ({facts.trigger.value}) {facts.status.value}"
        states.append(("runs", f"{head}: {facts.errors[0][:300]}" if facts.errors else head, failure_text(facts)))
    elif facts.status is RunStatus.OK:
        states.append(("runs", None, recovery_text(facts)))
    if facts.withheld:
        states.append(("withheld", "; ".join(facts.withheld), withheld_text(facts)))
    elif facts.status is RunStatus.OK and facts.full:  # every company applied: nothing is withheld now
        states.append(("withheld", None, ""))
    return states


def begin_text(check: str, why: str, since: datetime) -> str:
    """The standard message when a state begins."""
    when = f"{since:%Y-%m-%d %H:%M:%S}Z"
    return f":red_circle: crmsync: {WHAT.get(check, check)} failing since {when}: {shown(why[:500])}"


def end_text(check: str, since: str) -> str:
    """The standard message when a state ends."""
    was = f" (failing since {since})" if since else ""
    if check == "withheld":
        return f":large_green_circle: crmsync: nothing is withheld any more: a full run applied its plan{was}."
    return f":large_green_circle: crmsync: {WHAT.get(check, check)} recovered{was}."


class Alerter:
    """Sends one message when a state begins and one when it ends (shared by replicas through the state
    database), keeping a message Slack refused to send it again."""

    def __init__(
        self, store: Store, send: Callable[[str], bool], clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.store, self.send, self.clock = store, send, clock
        self._lock = threading.Lock()  # the worker, the jobs and web requests may report at once
        self.undelivered: dict[str, tuple[str | None, str]] = {}  # state → (why or None, message)
        self.late: dict[str, str] = {}  # state → a message telling a state that began and ended unannounced

    def observe(self, facts: RunFacts) -> str | None:
        """A run's outcome: the `runs` and `withheld` states; the last message sent, if any (busy and
        declined runs change nothing)."""
        sent = None
        for check, why, message in run_states(facts):
            sent = self.state(check, why, message) or sent
        return sent

    def state(self, check: str, why: str | None, message: str = "") -> str | None:
        """`check` is failing (`why`) or fine (None) now: the message sent when that changes what the
        state database recorded, if any."""
        with self._lock:
            name = f"alert:{check}"
            recorded = self.store.cursor(name) or ""
            if (why is not None) == recorded.startswith("failing"):
                late = self.undelivered.pop(check, None)
                if why is None and late is not None and late[0] is not None:  # began and ended while Slack
                    return self._late(check, late[1])  # refused: both are told, in one message
                return None
            now = self.clock()
            since = recorded.removeprefix("failing ").split(" ", 1)[0]
            text = message or (begin_text(check, why, now) if why is not None else end_text(check, since))
            if not self.send(text):
                self.undelivered[check] = (why, text)
                log.warning("alert.not_delivered", state=check, detail="kept; sent again at the next health check")
                return None
            self.undelivered.pop(check, None)
            self.store.save_cursor(name, f"failing {now:%Y-%m-%dT%H:%M:%S}" if why is not None else "ok")
            log.info("alert.sent", state=check, kind="begins" if why is not None else "ends")
            return text

    def _late(self, check: str, began: str) -> str | None:
        text = f"{began}\n{end_text(check, '')} (both told late: Slack refused the first message)"
        if not self.send(text):
            self.late[check] = text
            return None
        log.info("alert.sent", state=check, kind="began and ended")
        return text

    def listen(self, check: str, why: str | None, message: str) -> None:
        """The health tracker's listener: every state that fails or ends (never raises: an alert must
        never fail a run)."""
        try:
            self.state(check, why, message)
        except Exception as exc:  # noqa: BLE001 - the state database may be the failing state itself
            log.warning("alert.not_recorded", state=check, error=type(exc).__name__)

    def retry(self) -> None:
        """Send again every message Slack refused (each state's latest)."""
        for check, text in list(self.late.items()):
            if self.send(text):
                self.late.pop(check, None)
        for check, (why, text) in list(self.undelivered.items()):
            self.listen(check, why, text)
