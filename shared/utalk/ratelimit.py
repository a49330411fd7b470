"""Rate limits shared by every instance: fixed windows counted in sharded Firestore documents.

A `Limit` (utalk/limits.py) allows `limit` events per `window_seconds` per key. `take()` counts an event with one
blind `Increment` per limit (no read, no transaction: field transforms never contend) in one grouped
Commit, and reads the verdict from the transform's result. Production Firestore sustains about one
write per second per document, so a limit faster than that is split over `shards` documents, each
allowing its share: an instance sends its events to the shards in turn, so a single instance splits
exactly evenly, and however many instances serve a key no shard admits more than its share (the
increments are atomic), so a window never admits more than `limit`; a count that lands on a full
shard goes on to the next, so it admits no fewer either. An instance that learns a shard is full
stops writing to it until the window ends: an exhausted key costs no writes, and a shard document
takes its share plus, per instance, the requests in flight when it filled.

Documents are named by a hash of the key (no email or IP in an id) and carry `expireAt` for a
Firestore TTL policy to sweep. Windows are aligned to the epoch: `Retry-After` is the time to the
end of the window.
"""
from __future__ import annotations

import hashlib
import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from google.api_core import exceptions
from google.cloud import firestore

from utalk import clients, errors, logs
from utalk.limits import Limit

log = logs.get("ratelimit")
COLLECTION = "rateLimits"
_INCREMENT, _DECREMENT = firestore.Increment(1), firestore.Increment(-1)


@dataclass(frozen=True)
class Taken:
    """The shard documents one `take()` counted in, for `release()`."""
    refs: tuple = ()

    def __add__(self, other: "Taken") -> "Taken":
        return Taken(self.refs + other.refs)


# This instance's view of the current windows: key -> [next shard, bitmask of shards over their
# share]. Bounded like the other per-instance caches: dropped whole when full (the cost is at most
# one more write per key).
_windows: dict[str, list[int]] = {}
_WINDOWS_MAX = 50_000
_lock = threading.Lock()


def _pick(limit: Limit, key: str, window: int) -> tuple[str, int] | None:
    """The local state's key and the shard to count in next, or None when all are known full."""
    local = f"{limit.name}\x00{key}\x00{window}"
    with _lock:
        state = _windows.get(local)
        if state is None:
            if len(_windows) >= _WINDOWS_MAX:
                _windows.clear()
            # Start each key's rotation at its own shard, so instances do not all start on shard 0.
            state = _windows[local] = [hash(local) % limit.shards, 0]
        for _ in range(limit.shards):
            shard = state[0]
            state[0] = (shard + 1) % limit.shards
            if not state[1] & (1 << shard):
                return local, shard
    return None


def _mark_full(local: str, shard: int) -> None:
    with _lock:
        state = _windows.get(local)
        if state is not None:
            state[1] |= 1 << shard


def _ref(limit: Limit, key: str, window: int, shard: int):
    digest = hashlib.sha256(f"{limit.name}\x00{key}".encode()).hexdigest()[:40]
    return clients.firestore().collection(COLLECTION).document(
        f"{digest}-{limit.window_seconds}-{window}-{shard}")


def _expiry(now: float, window_seconds: int) -> datetime:
    return datetime.fromtimestamp(now, timezone.utc) + timedelta(seconds=2 * window_seconds)


def retry_after(limit: Limit, now: float | None = None) -> int:
    """Seconds until the current window of `limit` ends."""
    now = time.time() if now is None else now
    return max(1, math.ceil(limit.window_seconds - now % limit.window_seconds))


def _refused(limit: Limit, now: float) -> errors.RateLimited:
    return errors.RateLimited(retry_after=retry_after(limit, now), limit=limit.name, allowed=limit.limit,
                              window_seconds=limit.window_seconds)


def take(*counts: tuple[Limit, str], fail_open: bool = True) -> Taken:
    """Count one event against each `(limit, key)`; raise RateLimited (429) when any is over.

    The counts go in one Commit, grouped with concurrent callers'. A count that lands on a shard
    already over its share goes again to the next shard this instance does not know to be full, so
    a request is refused only when every shard of a limit is full: a window admits exactly `limit`.
    A count refused locally (every shard known full) costs no write. `fail_open`: when Firestore
    cannot be reached, let the request through (logged); the login throttle passes False (503).
    """
    from utalk.repositories.raw_writes import Batch
    from utalk.repositories.transforms import transform_result

    now, counted = time.time(), []
    pending = [(limit, key, int(now // limit.window_seconds)) for limit, key in counts]
    while pending:
        batch, sent = Batch(clients.firestore()), []
        for limit, key, window in pending:
            picked = _pick(limit, key, window)
            if picked is None:
                raise _refused(limit, now)
            ref = _ref(limit, key, window, picked[1])
            batch.set(ref, {"count": _INCREMENT, "expireAt": _expiry(now, limit.window_seconds)}, merge=True)
            sent.append((limit, key, window, picked, ref))
        try:
            results = batch.commit(grouped=True)
        except (exceptions.GoogleAPIError, TimeoutError) as exc:
            if not fail_open:
                raise errors.Unavailable("Rate limiter unavailable; try again shortly",
                                         headers={"Retry-After": "5"}) from None
            log.warning("rate limiter unavailable, request let through", extra={"error": type(exc).__name__})
            return Taken(tuple(counted))
        pending = []
        for (limit, key, window, (local, shard), ref), result in zip(sent, results):
            counted.append(ref)
            if transform_result(result, {"count": _INCREMENT}, "count") > limit.share(shard):
                _mark_full(local, shard)
                pending.append((limit, key, window))
    return Taken(tuple(counted))


def release(taken: Taken) -> None:
    """Give counted events back (a login whose password was right): blind decrements, no read."""
    if not taken.refs:
        return
    from utalk.repositories.raw_writes import Batch

    batch = Batch(clients.firestore())
    for ref in taken.refs:
        batch.set(ref, {"count": _DECREMENT}, merge=True)
    try:
        batch.commit(grouped=True)
    except (exceptions.GoogleAPIError, TimeoutError) as exc:  # the window ends anyway
        log.warning("rate limit release failed", extra={"error": type(exc).__name__})
