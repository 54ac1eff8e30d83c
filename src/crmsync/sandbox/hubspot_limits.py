"""The HubSpot emulator's API usage: the per-portal budget behind HubSpot's rate-limit headers.

Every authenticated call spends one call of the portal's daily budget (reset at midnight UTC in the
emulator; the account's time zone at HubSpot) and counts in the rolling 10 s window, and its answer
carries what is left, as HubSpot sends it to private apps:

    X-HubSpot-RateLimit-Daily, X-HubSpot-RateLimit-Daily-Remaining,
    X-HubSpot-RateLimit-Interval-Milliseconds, X-HubSpot-RateLimit-Max, X-HubSpot-RateLimit-Remaining

A spent daily budget answers 429 `DAILY` (no Retry-After), as HubSpot does. The 10 s window is
reported, and enforced only with `enforce_interval` (`HubSpotState.publish_limits`): a call past
`interval_limit` in the rolling 10 s answers 429 `TEN_SECONDLY_ROLLING` (no Retry-After). Search is
exempt from that window (the spec's `x-hubspot-rate-limit-exemptions: ["ten-secondly"]`): it has its
own per-second limit, `HubSpotState.search_rate_per_second`.
Defaults are the Free/Starter figures (250,000 a day, 100 per 10 s); a test shows a nearly spent
budget with `HubSpotState.set_api_usage(daily_limit=…, used_today=…)`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

INTERVAL_MS = 10_000


@dataclass
class ApiUsage:
    """One portal's calls today and in the last 10 s, against its limits."""

    daily_limit: int = 250_000
    interval_limit: int = 100  # calls per INTERVAL_MS
    used_today: int = 0
    day: date | None = None  # the UTC day `used_today` counts
    monotonic: Callable[[], float] = time.monotonic
    enforce_interval: bool = False  # refuse a call (not a search) past `interval_limit` in the 10 s window
    _window: deque[float] = field(default_factory=deque)  # monotonic times of the calls in the last 10 s
    _limited: deque[float] = field(default_factory=deque)  # the same, of the calls the window limits

    def exhausted(self, today: date) -> bool:
        """True when no call is left today (the call is then refused, and not counted)."""
        self._roll(today)
        return self.used_today >= self.daily_limit

    def spend(self, today: date) -> None:
        """Count one call, today and in the window."""
        self._roll(today)
        self.used_today += 1
        self._window.append(self.monotonic())

    def interval_full(self, *, exempt: bool) -> bool:
        """With `enforce_interval`, whether a call would pass `interval_limit` in the rolling 10 s (then it
        is refused and not counted); else counts it. `exempt` calls (search) are neither."""
        if not self.enforce_interval or exempt:
            return False
        now = self.monotonic()
        while self._limited and now - self._limited[0] >= INTERVAL_MS / 1000:
            self._limited.popleft()
        if len(self._limited) >= self.interval_limit:
            return True
        self._limited.append(now)
        return False

    def headers(self) -> dict[str, str]:
        """The rate-limit headers as they stand after the calls counted so far."""
        now = self.monotonic()
        while self._window and now - self._window[0] >= INTERVAL_MS / 1000:
            self._window.popleft()
        return {
            "X-HubSpot-RateLimit-Daily": str(self.daily_limit),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily_limit - self.used_today)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(INTERVAL_MS),
            "X-HubSpot-RateLimit-Max": str(self.interval_limit),
            "X-HubSpot-RateLimit-Remaining": str(max(0, self.interval_limit - len(self._window))),
        }

    def _roll(self, today: date) -> None:
        if self.day != today:  # a new day: the daily budget is whole again
            self.day, self.used_today = today, 0
