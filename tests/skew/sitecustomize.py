"""A host whose clock runs ahead: put this folder on PYTHONPATH and set SKEWED_CLOCK_SECONDS, and the
child process's `time.time()` and `datetime.now()` read that many seconds ahead (or behind).

Only this process's clock moves: the PostgreSQL server's clock, and SQLite's `'now'` (read by the C
library from the operating system), do not, as on a real host whose clock drifted. Python runs this
file at start-up, before crmsync is imported. Used by tests/e2e/test_clock_skew.py.
"""

from __future__ import annotations

import datetime as _datetime
import os
import time as _time

_SKEW = float(os.environ.get("SKEWED_CLOCK_SECONDS") or 0)

if _SKEW:
    _real_time = _time.time
    _time.time = lambda: _real_time() + _SKEW  # type: ignore[assignment]  # the skew is the point

    class _SkewedDatetime(_datetime.datetime):
        """`datetime.now()` and `utcnow()` ahead by the skew; everything else is datetime's own."""

        @classmethod
        def now(cls, tz: _datetime.tzinfo | None = None) -> _SkewedDatetime:  # type: ignore[override]
            return super().now(tz) + _datetime.timedelta(seconds=_SKEW)

        @classmethod
        def utcnow(cls) -> _SkewedDatetime:  # type: ignore[override]
            return super().utcnow() + _datetime.timedelta(seconds=_SKEW)

    _datetime.datetime = _SkewedDatetime  # type: ignore[misc]  # modules imported later see the skewed one
