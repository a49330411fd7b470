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

A count may instead go ahead, blind, in the Commit of what it limits (`ahead()`: web chat's send,
one Commit instead of two). Every count this instance writes returns the shard's new value, so it
knows a lower bound of each shard it counted in; a count goes ahead only on a shard known to be well
below its share (`ahead_margin`), one at a time per shard, and its result is learned after. A key's
first count of a window on this instance knows nothing yet; it goes ahead as on an empty shard only
when the key's latest count here, in the window before, landed well below (a visitor who keeps
chatting), else it is counted first. Such a window is exact as long as the instances serving a key
see each other's counts in time; at worst, when others filled the shard since this instance last
counted in it, each instance admits one count beyond it before it knows, once for what it knew
this window and once for what it knew the window before. Only an instance whose own count landed
below the margin in that window can, and each such count is a different one, so a shard admits
less than three times its share however many instances serve the key.

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

from google.api_core import exceptions

from utalk import clients, errors, logs
from utalk.limits import Limit
from utalk.repositories.raw_writes import Batch, Write

log = logs.get("ratelimit")
COLLECTION = "rateLimits"


@dataclass(frozen=True)
class Taken:
    """The shard documents one `take()` counted in (path, window seconds), for `release()`."""
    refs: tuple = ()

    def __add__(self, other: "Taken") -> "Taken":
        return Taken(self.refs + other.refs)


# This instance's view of the current windows: key -> [next shard, bitmask of shards over their
# share]. Bounded like the other per-instance caches: dropped whole when full (the cost is at most
# one more write per key).
_windows: dict[str, list[int]] = {}
_WINDOWS_MAX = 50_000
_lock = threading.Lock()

# The highest count this instance has seen each shard at (path -> count; counts only grow in a
# window), and the shards with a count ahead in flight: one each, so a burst of one key on one
# instance counts exactly (take) instead of all going ahead blind.
_seen: dict[str, int] = {}
_ahead: set[str] = set()
# The keys whose latest count here landed well below the limit, and in which window (limit and key
# -> window): a key this instance knew low in the window before may go ahead once, blind, in the next.
_low: dict[str, int] = {}


def ahead_margin(share: int) -> int:
    """How far below its share a shard must be known to be for a count to go ahead blind: a key
    near its limit is counted exactly."""
    return max(2, share // 4)


def _keyed(limit: Limit, key: str) -> str:
    return f"{limit.name}\x00{key}"


def _local(limit: Limit, key: str, window: int) -> str:
    return f"{_keyed(limit, key)}\x00{window}"


def _state(local: str, limit: Limit) -> list[int]:
    """This window's [next shard, full shards] of a key, new when unknown (under _lock)."""
    state = _windows.get(local)
    if state is None:
        if len(_windows) >= _WINDOWS_MAX:
            _windows.clear()
        # Start each key's rotation at its own shard, so instances do not all start on shard 0.
        state = _windows[local] = [hash(local) % limit.shards, 0]
    return state


def _pick(limit: Limit, key: str, window: int) -> tuple[str, int] | None:
    """The local state's key and the shard to count in next, or None when all are known full."""
    local = _local(limit, key, window)
    with _lock:
        state = _state(local, limit)
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


def _path(limit: Limit, key: str, window: int, shard: int) -> str:
    """A shard document's path (under the database's documents)."""
    digest = hashlib.sha256(f"{limit.name}\x00{key}".encode()).hexdigest()[:40]
    return f"{COLLECTION}/{digest}-{limit.window_seconds}-{window}-{shard}"


def _count(path: str, now: float, window_seconds: int, delta: int = 1):
    """The blind count of a shard as a raw Write: what `Batch.set(ref, {"count": Increment(delta),
    "expireAt": <now + 2 windows>}, merge=True)` sends (tests/unit/test_raw_writes.py), built
    directly because every limited request sends one: 4 µs, where a DocumentReference and the
    generic walk took 16. `expireAt` (whole seconds) is for the TTL policy; a release's decrement
    sets it too, so one landing after the sweep leaves a document the policy still sweeps."""
    w = Write()
    w.update.name = f"{clients.firestore()._database_string}/documents/{path}"
    w.update.fields["expireAt"].timestamp_value.FromSeconds(int(now) + 2 * window_seconds)
    w.update_mask.field_paths.append("expireAt")
    t = w.update_transforms.add()
    t.field_path = "count"
    t.increment.integer_value = delta
    return w


def retry_after(limit: Limit, now: float | None = None) -> int:
    """Seconds until the current window of `limit` ends."""
    now = time.time() if now is None else now
    return max(1, math.ceil(limit.window_seconds - now % limit.window_seconds))


def _refused(limit: Limit, now: float) -> errors.RateLimited:
    return errors.RateLimited(retry_after=retry_after(limit, now), limit=limit.name, allowed=limit.limit,
                              window_seconds=limit.window_seconds)


def _count_of(result) -> int:
    """The count a shard landed at: the one transform of its Write (`_count`)."""
    return result.transform_results[0].integer_value


def _learn(landed, freed=()) -> None:
    """Remember what counts landed at, each `(limit, local, shard, path, count)`, and whether their
    key is now low; `freed`: paths no longer ahead (in the same step, so no second count goes ahead
    on what the first has not told yet)."""
    with _lock:
        if len(_seen) >= _WINDOWS_MAX:
            _seen.clear()
        if len(_low) >= _WINDOWS_MAX:
            _low.clear()
        for limit, local, shard, path, count in landed:
            top = _seen[path] = max(count, _seen.get(path, 0))
            key, window = local.rsplit("\x00", 1)
            if top + ahead_margin(limit.share(shard)) < limit.share(shard):
                _low[key] = int(window)
            else:
                _low.pop(key, None)
        _ahead.difference_update(freed)


def take(*counts: tuple[Limit, str], fail_open: bool = True) -> Taken:
    """Count one event against each `(limit, key)`; raise RateLimited (429) when any is over.

    The counts go in one Commit, grouped with concurrent callers'. A count that lands on a shard
    already over its share goes again to the next shard this instance does not know to be full, so
    a request is refused only when every shard of a limit is full: a window admits exactly `limit`.
    A count refused locally (every shard known full) costs no write. `fail_open`: when Firestore
    cannot be reached, let the request through (logged); the login throttle passes False (503).
    """
    now, counted = time.time(), []
    pending = [(limit, key, int(now // limit.window_seconds)) for limit, key in counts]
    while pending:
        batch, sent = Batch(clients.firestore()), []
        for limit, key, window in pending:
            picked = _pick(limit, key, window)
            if picked is None:
                raise _refused(limit, now)
            path = _path(limit, key, window, picked[1])
            batch.writes.append(_count(path, now, limit.window_seconds))
            sent.append((limit, key, window, picked, path))
        try:
            results = batch.commit(grouped=True)
        except (exceptions.GoogleAPIError, TimeoutError) as exc:
            if not fail_open:
                raise errors.Unavailable("Rate limiter unavailable; try again shortly",
                                         headers={"Retry-After": "5"}) from None
            log.warning("rate limiter unavailable, request let through", extra={"error": type(exc).__name__})
            return Taken(tuple(counted))
        pending, landed = [], [_count_of(result) for result in results]
        _learn([(limit, local, shard, path, count)
                for (limit, _, _, (local, shard), path), count in zip(sent, landed)])
        for (limit, key, window, (local, shard), path), count in zip(sent, landed):
            counted.append((path, limit.window_seconds))
            if count > limit.share(shard):
                _mark_full(local, shard)
                pending.append((limit, key, window))
    return Taken(tuple(counted))


class Ahead:
    """Counts going ahead (`ahead()`): `commit(batch)` sends them in the caller's Commit. When that
    Commit fails (a duplicate message's create) or the caller fails before it (a refused attachment),
    they are counted alone (`alone()`), as take() would have: every request counts, so resending one
    message id or a bad attachment is limited like anything else."""

    def __init__(self, writes: list, paths: tuple, shards: tuple):
        self.writes, self.paths, self.shards = writes, paths, shards
        self.open = True

    def commit(self, batch) -> list:
        """Commit `batch` with these counts (grouped); the batch's own write results."""
        batch.writes.extend(self.writes)
        try:
            results = batch.commit(grouped=True)
        except BaseException:   # all or nothing, so nothing was counted (timed out: maybe it was; counted again)
            self.alone()
            raise
        self.open = False
        own = len(results) - len(self.writes)
        self._landed(results[own:])
        return results[:own]

    def alone(self) -> None:
        """Count these by themselves, once: what could not go in the caller's Commit."""
        if not self.open:
            return
        self.open = False
        batch = Batch(clients.firestore())
        batch.writes.extend(self.writes)
        try:
            self._landed(batch.commit(grouped=True))
        except (exceptions.GoogleAPIError, TimeoutError) as exc:   # fail open, as take()
            _learn((), freed=self.paths)
            log.warning("rate limiter unavailable, count not written", extra={"error": type(exc).__name__})

    def _landed(self, results) -> None:
        landed = [_count_of(result) for result in results]
        _learn([(limit, local, shard, path, count)
                for (limit, local, shard), path, count in zip(self.shards, self.paths, landed)], freed=self.paths)
        for (limit, local, shard), count in zip(self.shards, landed):
            if count > limit.share(shard):   # admitted all the same: the bound the module docstring states
                _mark_full(local, shard)
                log.info("a count went ahead beyond its limit", extra={"limit": limit.name, "count": count})


def ahead(*counts: tuple[Limit, str]) -> Ahead | None:
    """Count each `(limit, key)` in the caller's own Commit, when this instance knows every one of
    them well below its share and has none of them ahead already; None when not (count with take(),
    exactly). A key's first count of a window is known when this instance knew the key low in the
    window before: it goes ahead as on an empty shard, and what it lands at is the shard's news.
    Raises RateLimited, with no write, when every shard of one is known full."""
    now, picked = time.time(), []
    with _lock:
        for limit, key in counts:
            window = int(now // limit.window_seconds)
            local = _local(limit, key, window)
            blind = local not in _windows
            if blind and _low.get(_keyed(limit, key)) != window - 1:
                return None
            state = _state(local, limit)
            for _ in range(limit.shards):
                shard = state[0]
                state[0] = (shard + 1) % limit.shards
                if state[1] & (1 << shard):
                    continue
                path = _path(limit, key, window, shard)
                seen = _seen.get(path, 0 if blind else None)
                if seen is not None and path not in _ahead and \
                        seen + ahead_margin(limit.share(shard)) < limit.share(shard):
                    picked.append((limit, local, shard, path))
                    break
            else:
                if state[1] == (1 << limit.shards) - 1:
                    raise _refused(limit, now)
                return None
        paths = tuple(path for *_, path in picked)
        _ahead.update(paths)
    return Ahead([_count(path, now, limit.window_seconds) for limit, *_, path in picked], paths,
                 tuple((limit, local, shard) for limit, local, shard, _ in picked))


def release(taken: Taken) -> None:
    """Give counted events back (a login whose password was right): blind decrements, no read."""
    if not taken.refs:
        return
    batch, now = Batch(clients.firestore()), time.time()
    for path, window_seconds in taken.refs:
        batch.writes.append(_count(path, now, window_seconds, delta=-1))
    try:
        batch.commit(grouped=True)
    except (exceptions.GoogleAPIError, TimeoutError) as exc:  # the window ends anyway
        log.warning("rate limit release failed", extra={"error": type(exc).__name__})
