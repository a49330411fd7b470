"""Fixed-window rate limits shared by every instance (Firestore documents per key and window).

Each key is its own document, so contention stays per user or account; expired windows carry
`expireAt` for a Firestore TTL policy to sweep.
"""
from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta, timezone

from google.cloud import firestore

from utalk import clients, errors

COLLECTION = "rateLimits"


def _ref(key: str, window_seconds: int, now: float):
    window = int(now // window_seconds)
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return clients.firestore().collection(COLLECTION).document(f"{digest}-{window_seconds}-{window}"), \
        window_seconds - int(now % window_seconds)


def hit(key: str, limit: int, window_seconds: int) -> None:
    """Count one event for `key`; raise RateLimited (429) once `limit` is reached in the window."""
    now = time.time()
    ref, retry_after = _ref(key, window_seconds, now)
    db = clients.firestore()

    @firestore.transactional
    def run(txn) -> bool:
        snap = ref.get(transaction=txn)
        count = snap.get("count") if snap.exists else 0
        if count >= limit:
            return False
        txn.set(ref, {"count": count + 1, "expireAt": _expiry(now, window_seconds)})
        return True

    if not run(db.transaction()):
        raise errors.RateLimited(retry_after=retry_after)


def count(key: str, window_seconds: int) -> int:
    ref, _ = _ref(key, window_seconds, time.time())
    snap = ref.get()
    return snap.get("count") if snap.exists else 0


def add(key: str, window_seconds: int) -> None:
    """Count an event without checking (failed logins): a blind increment, no contention."""
    now = time.time()
    ref, _ = _ref(key, window_seconds, now)
    ref.set({"count": firestore.Increment(1), "expireAt": _expiry(now, window_seconds)}, merge=True)


def retry_after(window_seconds: int) -> int:
    return window_seconds - int(time.time() % window_seconds)


def _expiry(now: float, window_seconds: int) -> datetime:
    return datetime.fromtimestamp(now, timezone.utc) + timedelta(seconds=2 * window_seconds)


def take(key: str, limit: int, window_seconds: int) -> None:
    """Like hit() but without a read: one blind Increment whose result says whether we were over.

    For limits a user can hit concurrently (sending messages from several tabs): the transaction
    in hit() aborts under contention on one document; a field transform never does. Requests
    over the limit still count, which only matters within the window that is already exhausted.
    """
    from utalk.repositories.raw_writes import Batch
    from utalk.repositories.transforms import transform_result

    now = time.time()
    ref, retry_after = _ref(key, window_seconds, now)
    fields = {"count": firestore.Increment(1), "expireAt": _expiry(now, window_seconds)}
    [result] = Batch(clients.firestore()).set(ref, fields, merge=True).commit()
    if transform_result(result, fields, "count") > limit:
        raise errors.RateLimited(retry_after=retry_after)
