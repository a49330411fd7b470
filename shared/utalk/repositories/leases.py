"""Leases on Firestore documents: held while work runs, released when it ends, expired after a crash.

A lease is a document that exists while someone holds it. Taking a free one is a `create()` (its
precondition refuses a second holder: no read, no transaction); taking one whose holder died is
an update conditioned on the document's `update_time` as read, so of two instances seeing the
same expired lease only one wins; releasing is a delete conditioned on the holder's own write
time, so a holder that outlived its lease can never delete its successor's. Nothing here is a
read-modify-write transaction, so nothing aborts under contention.

`expiresAt` is set by the holder (now + ttl) and doubles as the field a Firestore TTL policy
sweeps, for leases whose holder died and nobody took over.
"""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from google.api_core.exceptions import Conflict, FailedPrecondition, NotFound

from utalk import clients


@dataclass
class Lease:
    ref: object
    holder: str
    update_time: object

    def release(self) -> None:
        """Give it back (idempotent; a lease taken over after expiry is the successor's)."""
        try:
            self.ref.delete(option=clients.firestore().write_option(last_update_time=self.update_time))
        except (FailedPrecondition, NotFound):
            pass


@dataclass(frozen=True)
class Busy:
    """Every lease asked for is held: by whom (one of them), and when the first one expires."""
    holder: str
    expires_at: datetime


def new_holder() -> str:
    return uuid.uuid4().hex


def _body(holder: str, ttl_seconds: float, now: datetime) -> dict:
    return {"holder": holder, "acquiredAt": now, "expiresAt": now + timedelta(seconds=ttl_seconds)}


def acquire(refs: list, holder: str, ttl_seconds: float) -> Lease | Busy:
    """One of `refs` (tried in random order, so holders spread over them), or Busy."""
    order = list(refs)
    random.shuffle(order)
    for _ in range(2):                 # a second pass when one was released while we looked
        now = datetime.now(timezone.utc)
        for ref in order:
            try:
                result = ref.create(_body(holder, ttl_seconds, now))
                return Lease(ref, holder, result.update_time)
            except Conflict:
                continue
        # All held: take over one whose holder let it expire (crashed, or killed at its timeout).
        snaps = [s for s in clients.firestore().get_all(order) if s.exists]
        if len(snaps) < len(order):
            continue
        for snap in sorted(snaps, key=lambda s: s.get("expiresAt")):
            if snap.get("expiresAt") > now:
                break
            try:
                result = snap.reference.update(
                    _body(holder, ttl_seconds, now),
                    option=clients.firestore().write_option(last_update_time=snap.update_time))
                return Lease(snap.reference, holder, result.update_time)
            except (FailedPrecondition, NotFound):
                continue               # someone else took it over (or released it) first
        first = min(snaps, key=lambda s: s.get("expiresAt"))
        return Busy(holder=first.get("holder"), expires_at=first.get("expiresAt"))
    return Busy(holder="", expires_at=datetime.now(timezone.utc))
