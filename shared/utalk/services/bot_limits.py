"""Per-workspace AI limits around a provider call: the request window, then a concurrency lease.

The platform queue (`bot-runs`) is sized for every tenant together (docs/bot-and-escalation.md);
each workspace's own budget is enforced here, so a workspace over it has its runs delayed while
the others' runs go straight through:
- rate: a run counts itself in the current window (`settings.ai.requestsPerMinute` per 60 s)
  only if the window has room; otherwise it is `Delayed` to the next window: a new task with a
  `schedule_time`, not a retry, so no attempt limit can drop it. Delayed runs are spread by
  message id over the first half of that window (a backlog does not wake at once), earlier the
  more often a run was delayed (older runs reach the room first). A backlog costs one task and
  a read or two per delayed run per window, never a write on the counter.
- concurrency: while `settings.ai.maxConcurrent` leases are held, the run is `Delayed` with
  backoff (0.5 s doubling to 8 s), keeping its admission so it is not counted twice. A lease is
  released when the call ends and expires after the longest a call can take (attempts x timeout,
  within the function's timeout), so a crashed run frees its slot.
Hot documents: a window counter takes one write per admitted run and none for refused ones; it
is split into shards of at most 12 admissions per window (ai/limits.py), so at 5x the limit a
shard sees ~1 write/s during the seconds its room lasts and none after. A lease slot takes two
writes per call it serves (create, delete), spread over `maxConcurrent` slot documents.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager

from utalk import manifest
from utalk.ai.limits import AiLimits, window_seconds
from utalk.repositories import leases
from utalk.repositories.ai_usage import AiUsage, spread

CONCURRENCY_FIRST_WAIT, CONCURRENCY_MAX_WAIT = 0.5, 8.0
LEASE_MARGIN_SECONDS = 5


class Delayed(Exception):
    """The workspace is at a limit: run this message again in `seconds` (`admitted`: it already
    counted in a window, so it only needs a lease next time)."""

    def __init__(self, reason: str, seconds: float, admitted: bool):
        super().__init__(f"{reason}: again in {seconds:.1f} s")
        self.reason, self.seconds, self.admitted = reason, max(0.0, seconds), admitted


def lease_ttl(limits: AiLimits) -> float:
    """The longest one provider call may hold its slot: every attempt timing out, plus a margin,
    and never past the function's own timeout (a run killed there is gone)."""
    attempts = int(os.environ.get("UTALK_AI_MAX_RETRIES", "2")) + 1
    return min(float(manifest.get("bot_run").timeout_seconds),
               attempts * limits.provider_timeout() + LEASE_MARGIN_SECONDS)


def admit(workspace_id: str, limits: AiLimits, key: str, delays: int = 0, now: float | None = None) -> None:
    """Count one run in the current window, or raise Delayed to the next window: at an offset
    spread by `key` over the first half of it, and the earlier the more often this run waited,
    so older runs reach the window's room first."""
    now = time.time() if now is None else now
    seconds = window_seconds()
    window = int(now // seconds)
    if AiUsage(workspace_id).admit(limits.shard_caps(seconds), window, seconds, key):
        return
    offset = spread(key, 1000) / 1000 * seconds / 2 / (delays + 1)
    raise Delayed("rate", (window + 1) * seconds + offset - now, admitted=False)


@contextmanager
def provider_call(workspace_id: str, limits: AiLimits, key: str, *, admitted: bool, delays: int):
    """Hold the workspace's budget for one provider call (raises Delayed before the call)."""
    if not admitted:
        admit(workspace_id, limits, key, delays)
    lease = leases.acquire(AiUsage(workspace_id).lease_slots(limits.max_concurrent), leases.new_holder(),
                           lease_ttl(limits))
    if isinstance(lease, leases.Busy):
        raise Delayed("concurrency", min(CONCURRENCY_MAX_WAIT, CONCURRENCY_FIRST_WAIT * 2 ** delays), admitted=True)
    try:
        yield
    finally:
        lease.release()
