"""Agent presence: explicit status updates, and `offline` once a user's last socket is gone.

Which sockets a user still has is kept in Redis (one sorted set per user, scored by a heartbeat),
because the user's sockets may live on several relay instances; a crashed instance's entries age
out after `STALE_SECONDS` instead of keeping the user online forever. Without Redis (one instance)
the same bookkeeping is kept in memory.
"""
from __future__ import annotations

import asyncio
import time

from google.cloud import firestore

from utalk import logs

from . import rooms

log = logs.get("relay.presence")

STATUSES = ("online", "offline", "busy")
HEARTBEAT_SECONDS = 30.0
STALE_SECONDS = 3 * HEARTBEAT_SECONDS


class LocalRegistry:
    """Sockets per user in this process (single-instance runs without Redis)."""

    def __init__(self):
        self._users: dict[tuple[str, str], set[str]] = {}

    async def add(self, ws: str, user: str, sid: str) -> None:
        self._users.setdefault((ws, user), set()).add(sid)

    async def remove(self, ws: str, user: str, sid: str) -> None:
        sids = self._users.get((ws, user))
        if sids is not None:
            sids.discard(sid)
            if not sids:
                del self._users[(ws, user)]

    async def count(self, ws: str, user: str) -> int:
        return len(self._users.get((ws, user), ()))

    async def heartbeat(self, entries) -> None:
        return None


class RedisRegistry:
    """Sockets per user across instances: ZSET relay:presence:{ws}:{user}, member sid, score seen-at.

    Calls are queued and sent as one pipeline per loop turn: ten thousand sockets connecting or
    dropping at once (a deploy, a network blip) cost a few round trips, not ten thousand
    connections waiting on the pool.
    """

    def __init__(self, redis):
        self.redis = redis
        self._queue: list[tuple[str, tuple, asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None

    @staticmethod
    def _key(ws: str, user: str) -> str:
        return f"relay:presence:{ws}:{user}"

    def _call(self, command: str, *args) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self._queue.append((command, args, fut))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush())
        return fut

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let the rest of this loop turn queue its calls too
        while self._queue:
            batch, self._queue = self._queue[:5000], self._queue[5000:]
            try:
                async with self.redis.pipeline(transaction=False) as p:
                    for command, args, _ in batch:
                        getattr(p, command)(*args)
                    results = await p.execute(raise_on_error=False)
            except Exception as exc:
                results = [exc] * len(batch)
            for (_, _, fut), result in zip(batch, results):
                if fut.done():
                    continue
                if isinstance(result, Exception):
                    fut.set_exception(result)
                else:
                    fut.set_result(result)

    async def add(self, ws: str, user: str, sid: str) -> None:
        key = self._key(ws, user)
        self._call("expire", key, int(STALE_SECONDS) + 30)
        await self._call("zadd", key, {sid: time.time()})

    async def remove(self, ws: str, user: str, sid: str) -> None:
        await self._call("zrem", self._key(ws, user), sid)

    async def count(self, ws: str, user: str) -> int:
        return await self._call("zcount", self._key(ws, user), time.time() - STALE_SECONDS, "+inf")

    async def heartbeat(self, entries) -> None:
        """Refresh these sockets' scores in one pipeline (the caller keeps the slices small)."""
        now = time.time()
        async with self.redis.pipeline(transaction=False) as p:
            for ws, user, sid in entries:
                key = self._key(ws, user)
                p.zadd(key, {sid: now})
                p.expire(key, int(STALE_SECONDS) + 30)
            await p.execute(raise_on_error=False)


class Presence:
    def __init__(self, sio, db: firestore.AsyncClient, registry, grace_seconds: float):
        self.sio, self.db, self.registry, self.grace = sio, db, registry, grace_seconds
        self._pending: dict[tuple[str, str], asyncio.Task] = {}

    async def set_status(self, ws: str, user: str, status: str) -> None:
        # merge=True on exactly these two fields: capacity, skills and counters on the same
        # document belong to the assignment code and must not be overwritten.
        await self.db.document(f"workspaces/{ws}/agents/{user}").set(
            {"status": status, "statusUpdatedAt": firestore.SERVER_TIMESTAMP}, merge=True)
        await self.sio.emit("presence:update", {"userId": user, "status": status}, room=rooms.members(ws))
        log.info("presence", extra={"workspaceId": ws, "userId": user, "status": status})
        if status == "online":
            await _enqueue("assignment_run", {"workspaceId": ws, "escalationId": None}, ws)
        elif status == "offline":
            # Their offers (and per the workspace's settings their conversations) go back to the
            # queue; the task checks they are still offline when it runs.
            await _enqueue("agent_release", {"workspaceId": ws, "agentId": user}, ws)

    async def connected(self, ws: str, user: str, sid: str) -> None:
        await self.registry.add(ws, user, sid)

    async def disconnected(self, ws: str, user: str, sid: str) -> None:
        await self.registry.remove(ws, user, sid)
        key = (ws, user)
        old = self._pending.pop(key, None)
        if old is not None:
            old.cancel()
        self._pending[key] = asyncio.create_task(self._offline_after_grace(ws, user))

    async def _offline_after_grace(self, ws: str, user: str) -> None:
        try:
            await asyncio.sleep(self.grace)
            # Counted after the grace, across all instances: a reconnect anywhere keeps them online.
            if await self.registry.count(ws, user) == 0:
                await self.set_status(ws, user, "offline")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("presence offline failed", extra={"workspaceId": ws, "userId": user})
        finally:
            if self._pending.get((ws, user)) is asyncio.current_task():
                del self._pending[(ws, user)]

    async def heartbeat_forever(self, sessions) -> None:
        """Refresh the registry entries of this instance's sockets once per HEARTBEAT_SECONDS,
        spread over that period a slice per second: refreshing 10,000 sockets in one burst held
        the event loop for seconds on a busy machine, a latency spike for every socket."""
        while True:
            snapshot = [(s.workspace_id, s.user_id, sid) for sid, s in list(sessions.items())]
            ticks = int(HEARTBEAT_SECONDS)
            per_tick = max(1, -(-len(snapshot) // ticks))
            for k in range(ticks):
                tick = asyncio.ensure_future(asyncio.sleep(1.0))
                part = snapshot[k * per_tick:(k + 1) * per_tick]
                if part:
                    try:
                        await self.registry.heartbeat(part)
                    except Exception:
                        log.exception("presence heartbeat failed")
                await tick

    async def cancel_pending(self) -> None:
        """On shutdown: drop pending offline checks. The clients reconnect to another instance;
        if they do not, their registry entries age out but the status stays as last written."""
        tasks = list(self._pending.values())
        for t in tasks:
            t.cancel()
        self._pending.clear()


async def _enqueue(function: str, body: dict, ws: str) -> None:
    """Hand a presence change to the functions: coming online asks the assignments queue to offer
    waiting escalations; going offline asks for the agent's offers to be released.

    Best effort: presence is already stored, and the next assignment run (any escalation, any
    freed slot) would find this agent anyway, as the assignment sweep finds a lapsed offer (its own
    timer returns it too); a failure here only delays that.
    """
    from utalk import tasks  # the same enqueue the functions use

    try:
        await asyncio.to_thread(tasks.enqueue, function, body)
    except Exception:
        log.exception("could not enqueue %s", function, extra={"workspaceId": ws})
