"""Per-socket limit on client events (spec: 50 events per minute).

A token bucket of `limit` tokens refilled at limit/window per second: at most `limit` events in a
burst and `limit` per window sustained. Two floats per socket; a deque of timestamps (a sliding
log) cost ~750 bytes per idle socket, which at 10,000 sockets is memory spent on nothing.
"""
from __future__ import annotations

import time


class TokenBucket:
    __slots__ = ("limit", "rate", "_tokens", "_at")

    def __init__(self, limit: int, window: float = 60.0):
        self.limit, self.rate = limit, limit / window
        self._tokens, self._at = float(limit), time.monotonic()

    def allow(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self._tokens = min(self.limit, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
