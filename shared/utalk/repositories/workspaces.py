"""Workspace settings (bot texts and provider, escalation keywords, thresholds, timeouts)."""
from __future__ import annotations

from utalk.repositories.base import WorkspaceScope


def workspace_settings(workspace_id: str) -> dict:
    snap = WorkspaceScope(workspace_id).root.get(["settings"])
    return ((snap.to_dict() or {}).get("settings") or {}) if snap.exists else {}
