"""Exactly-once emission on top of Pub/Sub's at-least-once delivery: claim each event id once.

With several instances the claim is a Redis `SET NX` with a TTL, so a message redelivered to
another instance (ack lost, deadline expired, nacked on shutdown after the emit) is not emitted
a second time. A single instance without Redis keeps recent ids in memory.
"""
from __future__ import annotations

from collections import OrderedDict

DEDUP_SECONDS = 600


class LocalDedup:
    """Recent event ids in memory (single instance without Redis)."""

    def __init__(self, size: int = 20000):
        self._ids: OrderedDict[str, None] = OrderedDict()
        self.size = size

    async def claim(self, event_id: str) -> bool:
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True

    async def release(self, event_id: str) -> None:
        self._ids.pop(event_id, None)


class RedisDedup:
    """SET NX with a TTL: the first instance to claim an event id emits it, any later copy is dropped."""

    def __init__(self, redis):
        self.redis = redis

    async def claim(self, event_id: str) -> bool:
        return bool(await self.redis.set(f"relay:event:{event_id}", b"1", nx=True, ex=DEDUP_SECONDS))

    async def release(self, event_id: str) -> None:
        await self.redis.delete(f"relay:event:{event_id}")
