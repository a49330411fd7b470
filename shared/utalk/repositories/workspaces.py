"""Workspace settings (bot texts and provider, escalation keywords, thresholds, timeouts)."""
from __future__ import annotations

from utalk.repositories.base import WorkspaceScope


def workspace_settings(workspace_id: str) -> dict:
    snap = WorkspaceScope(workspace_id).root.get(["settings"])
    return ((snap.to_dict() or {}).get("settings") or {}) if snap.exists else {}


def workspace_ids(start: str | None, limit: int, inclusive: bool = True) -> list[str]:
    """Workspace ids in id order from `start` (platform jobs that visit every workspace)."""
    from utalk import clients

    col = clients.firestore().collection("workspaces")
    query = col.order_by("__name__").select([]).limit(limit)
    if start:
        query = query.start_at([col.document(start)]) if inclusive else query.start_after([col.document(start)])
    return [snap.id for snap in query.stream()]
