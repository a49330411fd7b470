"""Feature flags: is a flag on for a workspace? Evaluated from a per-instance cache, counted in memory.

Evaluation, in this order (docs/feature-flags.md):
1. no such flag, or its kill switch pulled (`enabled: false`): off, for everyone, overrides included;
2. the workspace's override, when the flag is `overridable`;
3. the tenant's override (`tenants: {tenantId: bool}` on the definition, set by operators);
4. the rollout: bucket(key, workspace) < `percent`. The bucket is sha256 of "key:workspaceId" into
   0..99, so a workspace in at 10 % is in at 50 % and 100 %, and flags roll out to different
   workspaces first (the key is in the hash).

Definitions and overrides are cached per instance for CACHE_SECONDS (UTALK_FLAGS_CACHE_SECONDS,
default 5): a request reads nothing in the steady state, and a kill switch reaches every instance
within that TTL. Evaluations (on/off) and uses of the gated feature are counted in memory and added
to sharded daily counters at most every FLUSH_SECONDS per instance (UTALK_FLAGS_FLUSH_SECONDS,
default 60): one small batch per instance per minute, whatever the request rate.
"""
from __future__ import annotations

import collections
import hashlib
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

CACHE_SECONDS = float(os.environ.get("UTALK_FLAGS_CACHE_SECONDS", "5"))
FLUSH_SECONDS = float(os.environ.get("UTALK_FLAGS_FLUSH_SECONDS", "60"))
MAX_WORKSPACES = 10_000   # cached override sets; dropped whole when full (they refill on demand)


@dataclass(frozen=True)
class Evaluation:
    enabled: bool
    reason: str            # killed | workspace_override | tenant_override | rollout (models/flags.Reason)


def bucket(key: str, workspace_id: str) -> int:
    """The workspace's stable place 0..99 in the rollout of flag `key`."""
    digest = hashlib.sha256(f"{key}:{workspace_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def evaluate(definition: dict | None, workspace_id: str, tenant_id: str | None,
             override: dict | None) -> Evaluation:
    """Pure: the flag's state for one workspace, from its definition and the workspace's override."""
    if not definition or definition.get("enabled") is False:
        return Evaluation(False, "killed")
    if override is not None and definition.get("overridable"):
        return Evaluation(bool(override.get("enabled")), "workspace_override")
    tenants = definition.get("tenants") or {}
    if tenant_id in tenants:
        return Evaluation(bool(tenants[tenant_id]), "tenant_override")
    percent = int(definition.get("percent") or 0)
    return Evaluation(bucket(definition.get("key") or "", workspace_id) < percent, "rollout")


_lock = threading.Lock()
_definitions: tuple[float, dict[str, dict]] | None = None
_overrides: dict[str, tuple[float, dict[str, dict]]] = {}
_counts: collections.Counter = collections.Counter()   # (key, "on"|"off"|"used") -> n
_flushed = time.monotonic()


def _fresh(loaded: float) -> bool:
    return time.monotonic() - loaded < CACHE_SECONDS


def _cached_definitions() -> dict[str, dict]:
    global _definitions
    hit = _definitions
    if hit is not None and _fresh(hit[0]):
        return hit[1]
    from utalk.repositories import flags as repo

    loaded = (time.monotonic(), repo.definitions())
    _definitions = loaded
    return loaded[1]


def _cached_overrides(workspace_id: str) -> dict[str, dict]:
    hit = _overrides.get(workspace_id)
    if hit is not None and _fresh(hit[0]):
        return hit[1]
    from utalk.repositories import flags as repo

    loaded = (time.monotonic(), repo.overrides(workspace_id))
    with _lock:
        if len(_overrides) >= MAX_WORKSPACES:
            _overrides.clear()
        _overrides[workspace_id] = loaded
    return loaded[1]


def forget() -> None:
    """Drop the cache (what the TTL does, at once): after this instance changed a flag itself."""
    global _definitions
    with _lock:
        _definitions = None
        _overrides.clear()


def is_on(key: str, workspace_id: str, tenant_id: str | None = None) -> bool:
    """Whether flag `key` is on for the workspace now (cached; counted for the usage metrics)."""
    definition = _cached_definitions().get(key)
    override = _cached_overrides(workspace_id).get(key) if definition and definition.get("overridable") else None
    on = evaluate(definition, workspace_id, tenant_id, override).enabled
    _count(key, "on" if on else "off")
    return on


def used(key: str) -> None:
    """The gated feature actually ran (an export got its BOM, say): counted as a use."""
    _count(key, "used")


def _count(key: str, what: str) -> None:
    global _flushed
    with _lock:
        _counts[(key, what)] += 1
        due = time.monotonic() - _flushed >= FLUSH_SECONDS
        if due:
            taken = dict(_counts)
            _counts.clear()
            _flushed = time.monotonic()
    if due:
        _flush(taken)


def _flush(taken: dict) -> None:
    """Add what this instance counted to the daily shards; on failure the counts go back, not lost."""
    from utalk import logs
    from utalk.repositories import flags as repo

    by_flag: dict[str, dict[str, int]] = {}
    for (key, what), n in taken.items():
        by_flag.setdefault(key, {})[what] = n
    try:
        repo.add_usage(datetime.now(timezone.utc).date().isoformat(), by_flag)
    except Exception:  # metrics must never fail the request that happened to flush them
        logs.get("flags").warning("flag usage flush failed; kept for the next one", exc_info=True)
        with _lock:
            _counts.update(taken)
