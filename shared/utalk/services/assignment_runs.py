"""One assignment run per workspace at a time, on a queue that runs many workspaces at once.

The read-decide-write on a workspace's agent documents must not contend (DESIGN.md, hot
documents), so a workspace's runs never overlap; other workspaces' runs must not wait for them.
A run holds the workspace's `leases/assignment` lease (repositories/leases.py) while it drains;
the `assignments` queue dispatches up to its concurrency across all workspaces. A run that finds
the lease held does not wait: what asked for it (a new escalation, a freed slot) may have come
after the holder read the waiting queue, so it schedules one follow-up run after the holder,
named after that holder, so every run that finds the same holder shares one follow-up. The lease
expires after the function's timeout, so a run that crashed holds nothing for longer.
"""
from __future__ import annotations

import time

from utalk import manifest, tasks
from utalk.models.escalations import AssignmentTask
from utalk.repositories import leases
from utalk.repositories.base import WorkspaceScope
from utalk.services import assignment

FOLLOW_UP_FIRST, FOLLOW_UP_MAX = 1.0, 10.0


def run(workspace_id: str, follow_up: int = 0) -> dict:
    """Drain the waiting queue under the workspace's lease, or leave a follow-up to the holder."""
    ref = WorkspaceScope(workspace_id).collection("leases").document("assignment")
    lease = leases.acquire([ref], leases.new_holder(), manifest.get("assignment_run").timeout_seconds)
    if isinstance(lease, leases.Busy):
        wait = min(FOLLOW_UP_MAX, FOLLOW_UP_FIRST * 2 ** follow_up)
        key = f"{workspace_id}:after:{lease.holder}:{follow_up}" if lease.holder else None
        tasks.enqueue("assignment_run", AssignmentTask(workspaceId=workspace_id, followUp=follow_up + 1),
                      delay_seconds=wait, dedup_key=key)
        return {"busy": True, "followUpInSeconds": wait}
    started = time.time()
    try:
        result = assignment.drain(workspace_id)
    finally:
        lease.release()
    return {**result, "heldFrom": started, "heldUntil": time.time()}
