"""The workspace's audit log (`workspaces/{ws}/auditLog/{id}`): who changed what, when. Server only
(firestore.rules deny it to every client); written in the transaction that makes the change."""
from __future__ import annotations

import uuid

from google.cloud import firestore

from utalk.repositories.base import WorkspaceScope

COLLECTION = "auditLog"


def new_id() -> str:
    return f"aud_{uuid.uuid4()}"


def entry(audit_id: str, workspace_id: str, action: str, by, changes: list[dict],
          request_id: str | None = None) -> dict:
    """One record: `by` is the acting Principal; `changes` the [{path, before, after}] it made."""
    return {"id": audit_id, "workspaceId": workspace_id, "action": action, "actorId": by.user_id,
            "actorRole": by.role, "changes": changes, "requestId": request_id,
            "at": firestore.SERVER_TIMESTAMP}


def ref(scope: WorkspaceScope, audit_id: str):
    return scope.collection(COLLECTION).document(audit_id)
