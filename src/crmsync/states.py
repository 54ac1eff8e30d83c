"""The states crmsync records, as enums so an undocumented one cannot be written: where an override
stands in the ownership ledger, how a run ended, what started it. Their values are stored in the
state database and printed in `--json` output; re-exported by domain.py, where callers import them.
"""

from __future__ import annotations

from enum import StrEnum


class LedgerState(StrEnum):
    """Where an override stands in crmsync's ownership ledger."""

    INTENT = "intent"  # a create is about to be (or may have been) sent; its token is in the note
    ACTIVE = "active"  # created (or adopted) by crmsync and managed
    RELEASED = "released"  # no longer managed; the pair is not created again until adopted
    DELETED = "deleted"  # deleted by crmsync (or found gone)
    DUPLICATE = "duplicate"  # owned, beside another owned override of the same pair: the next apply deletes one


class RunStatus(StrEnum):
    """How a recorded run ended."""

    RUNNING = "running"  # started, not finished (or the process died: see `crmsync status`)
    OK = "ok"
    FAILED = "failed"  # some change failed, or the run stopped on an error
    REFUSED = "refused"  # a guard (or a stale saved plan) refused; nothing written
    DECLINED = "declined"  # a person answered no at the prompt; nothing written
    BUSY = "busy"  # some companies were being reconciled by another process and were skipped
    INTERRUPTED = "interrupted"  # stopped by a signal (Ctrl-C, SIGTERM) part way


class Trigger(StrEnum):
    """What started a run."""

    MANUAL = "manual"  # crmsync plan / apply at a terminal or in CI
    SAVED_PLAN = "saved-plan"  # crmsync apply FILE
    DEMO = "demo"
    WEBHOOK = "webhook"  # events from several sources at once (crmsync serve)
    WEBHOOK_HUBSPOT = "webhook:hubspot"  # a HubSpot deal event
    WEBHOOK_SALESFORCE = "webhook:salesforce"  # a Salesforce Outbound Message
    WEBHOOK_SCHEMATIC = "webhook:schematic"  # a company.override.* event (a hand edit, or crmsync's own echo)
    POLL = "poll"  # the polling fallback (crmsync serve)
    SCHEDULE = "schedule"  # the scheduled full resync (crmsync serve)
    OPS = "ops"  # POST /reconcile (crmsync serve)
    CONSOLE = "console"  # an operator's action in the console (crmsync ui, /ui/ of serve)
    APPROVE = "approve"  # an operator approved what a guard withheld (POST /approve, the console)
