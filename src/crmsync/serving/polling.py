"""The polling fallback of `crmsync serve`: for each CRM a mapping reads, the ids of the deals changed
since the stored cursor (looking `overlap` further back), handed to `queue` as hints; the cursor is
stored only after they are queued, so a crash between the two re-reads rather than loses changes.

This is the safety net for webhook deliveries that never come: with no webhook configured at all,
polling alone keeps overrides in step. The hints go through the same intake as webhooks (the deals
are re-read, their companies reconciled under the same per-company exclusion).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from crmsync.connectors.base import Changes, Connector
from crmsync.domain import Source
from crmsync.logs import get_logger
from crmsync.metrics import SuccessTracker
from crmsync.serving.health import report
from crmsync.store.intake import IntakeStore, NewEvent
from crmsync.store.repository import Store

log = get_logger("crmsync.poll")
DEFAULT_OVERLAP = 120.0  # seconds looked back past the cursor: a change committed late is still seen


def cursor_name(source: Source) -> str:
    """The state database's name for one source's poll cursor."""
    return f"poll:{source.value}"


def poll(
    store: Store,
    connectors: Mapping[Source, Connector],
    queue: Callable[[Changes], object],
    *,
    overlap: float = DEFAULT_OVERLAP,
    sources: Sequence[Source] | None = None,
    tracker: SuccessTracker | None = None,
) -> dict[Source, int]:
    """One poll of every source (or `sources`): changed deal ids → `queue`, then the cursor moves.
    Returns the number of deals queued per source. A source whose read fails keeps its cursor (the
    next poll covers the same span) and does not stop the others; `tracker` hears how each read went."""
    queued: dict[Source, int] = {}
    for source in sources or tuple(connectors):
        connector = connectors.get(source)
        if connector is None:
            continue
        name = cursor_name(source)
        cursor = store.cursor(name)
        try:
            changes = connector.changed_deals(cursor, overlap=overlap)
        except Exception as exc:  # noqa: BLE001 - one source's failure must not stop the other's poll
            log.warning("poll.failed", source=source.value, error=type(exc).__name__, detail=str(exc)[:200])
            report(tracker, exc)
            continue
        if tracker is not None:
            tracker.succeeded(source.value)
        if changes.deal_ids:
            queue(changes)
        if changes.cursor is not None and changes.cursor != cursor:
            store.save_cursor(name, changes.cursor)
        queued[source] = len(changes.deal_ids)
        log.info("poll.done", source=source.value, changed=len(changes.deal_ids), requests=changes.requests)
    return queued


def poll_action(
    store: Store,
    connectors: Callable[[], Mapping[Source, Connector]],
    intake: IntakeStore,
    wake: Callable[[], None],
    *,
    overlap: float = DEFAULT_OVERLAP,
    tracker: SuccessTracker | None = None,
) -> Callable[[], object]:
    """serve's poll job: changed deals become intake hints (kind `poll`), then the worker is woken."""

    def queue(changes: Changes) -> None:
        source = changes.source.value
        events = [  # one hint per change of a deal: a later poll re-seeing the same change adds nothing
            NewEvent(source, "poll", deal_id, f"poll:{source}:{deal_id}:{changes.version(deal_id)}")
            for deal_id in changes.deal_ids
        ]
        intake.add_events(events)
        wake()

    def action() -> None:
        poll(store, connectors(), queue, overlap=overlap, tracker=tracker)

    return action
