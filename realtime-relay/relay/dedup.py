"""Exactly-once emission on top of Pub/Sub's at-least-once delivery: claim each event id once.

With several instances the claim is a Redis `SET NX` with a TTL, so a message redelivered to
another instance (ack lost, deadline expired, nacked on shutdown after the emit) is not emitted
a second time. A single instance without Redis keeps recent ids in memory.
"""
from __future__ import annotations

import asyncio
from collections import OrderedDict

DEDUP_SECONDS = 600


class InFlight:
    """The events this instance has claimed and is still emitting. A concurrent copy of the same
    message (a publish the client retried, a redelivery while the first copy is still emitting)
    finds an event claimed and waits here for it to be out before it emits the next event of its
    batch, so a screen never gets a message before the conversation it belongs to."""

    def __init__(self):
        self._emitting: dict[str, asyncio.Future] = {}

    def begin(self, event_id: str) -> None:
        self._emitting[event_id] = asyncio.get_running_loop().create_future()

    def end(self, event_id: str, emitted: bool) -> None:
        future = self._emitting.pop(event_id, None)
        if future is not None:
            future.set_result(emitted)

    def settled(self, event_id: str):
        """None unless this instance is emitting the event now; else what to await: True once it
        is out, False if its emission failed (the caller stops too, its redelivery keeps the order)."""
        future = self._emitting.get(event_id)
        return None if future is None else asyncio.shield(future)


class LocalDedup(InFlight):
    """Recent event ids in memory (single instance without Redis)."""

    def __init__(self, size: int = 20000):
        super().__init__()
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


class RedisDedup(InFlight):
    """SET NX with a TTL: the first instance to claim an event id emits it, any later copy is dropped."""

    def __init__(self, redis):
        super().__init__()
        self.redis = redis

    async def claim(self, event_id: str) -> bool:
        return bool(await self.redis.set(f"relay:event:{event_id}", b"1", nx=True, ex=DEDUP_SECONDS))

    async def release(self, event_id: str) -> None:
        await self.redis.delete(f"relay:event:{event_id}")
