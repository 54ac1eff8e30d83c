"""Webhook delivery for the emulators: a queue and a thread that POSTs batches to a subscribed URL and
retries failures with backoff, as HubSpot, Salesforce and Schematic do (at least once, maybe twice).

Used by `hubspot_push.py`, `salesforce_push.py` and `schematic_push.py`; started by
`Sandbox.subscribe`. `deliveries` records every attempt (status, or the error) for tests.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from crmsync.retry_policy import push_policy

# (items of one batch, attempt number from 0) → (body, headers)
Encoder = Callable[[list[Any], int], tuple[bytes, dict[str, str]]]


@dataclass(frozen=True)
class Delivery:
    """One POST attempt: how many items it carried and how it ended."""

    items: int
    attempt: int
    status: int | None  # None: no answer (connection refused, timeout)


class Pusher:
    """Delivers queued items to `url` in batches of up to `batch`, retrying each failed batch `attempts` times."""

    def __init__(
        self,
        url: str,
        encode: Encoder,
        *,
        batch: int = 100,
        linger: float = 0.01,
        attempts: int = 10,
        backoff: float = 0.1,
        accepted: Callable[[httpx.Response], bool] = lambda r: 200 <= r.status_code < 300,
        timeout: float = 5.0,
    ) -> None:
        self.url, self.encode, self.batch, self.linger = url, encode, batch, linger
        self.attempts, self.backoff, self.accepted = attempts, backoff, accepted
        self.deliveries: list[Delivery] = []
        self.dropped = 0  # items given up after the last attempt
        self._queue: queue.Queue[Any] = queue.Queue()
        self._stop = threading.Event()
        self._client = httpx.Client(timeout=timeout)
        self._thread = threading.Thread(target=self._loop, name="sandbox-webhooks", daemon=True)
        self._thread.start()

    def put(self, item: Any) -> None:
        """Queue one item (an event, a notification) for delivery."""
        self._queue.put(item)

    def idle(self) -> bool:
        """Nothing queued or in flight."""
        return self._queue.unfinished_tasks == 0

    def stop(self) -> None:
        """Stop delivering (what is still queued is dropped, as when a vendor disables a subscription)."""
        self._stop.set()
        self._thread.join(timeout=10)
        self._client.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                first = self._queue.get(timeout=0.05)
            except queue.Empty:
                continue
            items = [first]
            while len(items) < self.batch:
                try:
                    items.append(self._queue.get(timeout=self.linger))
                except queue.Empty:
                    break
            try:
                self._deliver(items)
            finally:
                for _ in items:
                    self._queue.task_done()

    def _deliver(self, items: list[Any]) -> None:
        policy = push_policy(self.attempts, self.backoff)
        for attempt in range(policy.attempts):
            if attempt and self._stop.wait(policy.backoff_wait(attempt)):
                return
            body, headers = self.encode(items, attempt)
            try:
                answer = self._client.post(self.url, content=body, headers=headers)
            except httpx.HTTPError:
                self.deliveries.append(Delivery(len(items), attempt, None))
                continue
            self.deliveries.append(Delivery(len(items), attempt, answer.status_code))
            if self.accepted(answer):
                return
        self.dropped += len(items)
