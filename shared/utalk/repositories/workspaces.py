"""Workspace settings (bot texts and provider, escalation keywords, thresholds, timeouts)."""
from __future__ import annotations

from utalk.models.settings import effective
from utalk.repositories.base import WorkspaceScope


def stored_settings(workspace_id: str) -> dict:
    """`settings` as stored (possibly partial)."""
    snap = WorkspaceScope(workspace_id).root.get(["settings"])
    return ((snap.to_dict() or {}).get("settings") or {}) if snap.exists else {}


def workspace_settings(workspace_id: str) -> dict:
    """The whole settings document (models/settings.py): what is stored, defaults for the rest."""
    return effective(stored_settings(workspace_id))


def change_settings(workspace_id: str, decide) -> tuple[dict, dict | None]:
    """Read-decide-write of the settings in one transaction (an admin action, never a hot path).

    `decide(stored) -> (new stored settings, audit record or None)`; with a record, both are
    written (the record under auditLog/, the settings whole). Returns what `decide` returned."""
    from google.cloud import firestore

    from utalk import errors
    from utalk.repositories import audit

    scope = WorkspaceScope(workspace_id)

    @firestore.transactional
    def run(txn):
        snap = scope.root.get(["settings"], transaction=txn)
        if not snap.exists:
            raise errors.NotFound("No such workspace", code="workspace_not_found")
        settings, record = decide((snap.to_dict() or {}).get("settings") or {})
        if record is not None:
            txn.update(scope.root, {"settings": settings, "settingsUpdatedAt": firestore.SERVER_TIMESTAMP})
            txn.create(audit.ref(scope, record["id"]), record)
        return settings, record

    return run(scope.db.transaction())


def workspace_ids(start: str | None, limit: int, inclusive: bool = True) -> list[str]:
    """Workspace ids in id order from `start` (platform jobs that visit every workspace)."""
    from utalk import clients

    col = clients.firestore().collection("workspaces")
    query = col.order_by("__name__").select([]).limit(limit)
    if start:
        query = query.start_at([col.document(start)]) if inclusive else query.start_after([col.document(start)])
    return [snap.id for snap in query.stream()]
