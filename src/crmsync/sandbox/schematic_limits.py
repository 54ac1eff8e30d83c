"""The Schematic emulator's `mutation` bucket (reference/schematic-api.md §8), off by default.

Writes (POST/PUT/PATCH/DELETE) at a sustained rate with a burst; past it a write is answered 429
with `{"bucket": "mutation", "error": "Rate limit exceeded"}`, `Retry-After` (whole seconds) and
`X-RateLimit-Limit` (the burst), `X-RateLimit-Remaining` and `X-RateLimit-Reset` (relative
seconds), which every write's answer then carries too. Used by `SchematicState` under its lock.
"""

from __future__ import annotations

import math

from crmsync.sandbox.common import Call, Reply, TokenBucket
from crmsync.sandbox.schematic_api import WRITE_METHODS, mutation_limited


class MutationLimit:
    """The bucket (None: no limit) and how many writes it refused."""

    def __init__(self) -> None:
        self.bucket: TokenBucket | None = None
        self.refused = 0

    def set(self, rate: float | None, burst: float | None = None) -> None:
        """`rate` writes per second sustained, `burst` at once (default: `rate`); None or 0: no limit."""
        self.bucket = TokenBucket(rate, burst) if rate else None

    def check(self, call: Call) -> Reply | None:
        """Spend a token for a write: None to proceed, or the 429 when the bucket is empty."""
        if self.bucket is None or call.method not in WRITE_METHODS:
            return None
        wait = self.bucket.take()
        if wait <= 0:
            return None
        self.refused += 1
        return mutation_limited(wait, self.bucket.capacity)

    def headers(self, call: Call, reply: Reply) -> None:
        """The X-RateLimit-* headers on a write's answer."""
        if self.bucket is None or call.method not in WRITE_METHODS:
            return
        reply.headers.update(
            {
                "X-RateLimit-Limit": str(int(self.bucket.capacity)),
                "X-RateLimit-Remaining": str(self.bucket.remaining()),
                "X-RateLimit-Reset": str(math.ceil(self.bucket.reset())),
            }
        )
