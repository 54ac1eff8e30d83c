"""Group commit for the webhook endpoints: the hints of requests that arrive together are stored in
one transaction, and each request is answered once the transaction holding its hints has committed.

Under a burst (HubSpot sends a change per request when a sales team edits deals in bulk), one
transaction per request would hold a database connection each and queue for the pool; here one
thread commits whatever has gathered while the previous commit ran, so the database sees a few
transactions a second, each request still waits for its own hints to be durable (a 2xx is never
sent for a hint not stored), and a failed commit fails every request it held (they get the 503).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from starlette.concurrency import run_in_threadpool

from crmsync.store.intake import IntakeStore, NewEvent

MAX_BATCH = 200  # requests committed together at most


class GroupCommit:
    """`await add(events)` → how many of them were new, committed together with the concurrent requests'."""

    def __init__(self, store: IntakeStore, max_batch: int = MAX_BATCH) -> None:
        self.store, self.max_batch = store, max_batch
        self._waiting: list[tuple[Sequence[NewEvent], asyncio.Future[int]]] = []
        self._committing: asyncio.Task[None] | None = None

    async def add(self, events: Sequence[NewEvent]) -> int:
        """Store `events` (with whatever else is waiting); raises what the commit raised."""
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append((events, done))
        if self._committing is None or self._committing.done():
            self._committing = asyncio.create_task(self._commit())
        return await done

    async def _commit(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
            try:
                added = await run_in_threadpool(self.store.add_event_groups, [events for events, _ in batch])
            except Exception as exc:  # noqa: BLE001 - every request of the batch is told, none left waiting
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for (_, done), count in zip(batch, added, strict=True):
                if not done.done():
                    done.set_result(count)
