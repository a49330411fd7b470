"""The workspace scope every repository is built on, and cursor encoding for pagination."""
from __future__ import annotations

import base64
import json

from utalk import clients, errors


class WorkspaceScope:
    """A handle on one workspace's subtree; there is no way to build a path outside it."""

    def __init__(self, workspace_id: str, db=None):
        if not workspace_id or "/" in workspace_id:
            raise ValueError("invalid workspace id")
        self.workspace_id = workspace_id
        self.db = db or clients.firestore()
        self.root = self.db.collection("workspaces").document(workspace_id)

    def collection(self, name: str):
        return self.root.collection(name)


def read(ref, transaction=None) -> dict | None:
    """A document's data, or None when it does not exist (inside a transaction when given)."""
    snap = ref.get(transaction=transaction)
    return snap.to_dict() if snap.exists else None


def read_all(refs: list) -> list[dict | None]:
    """Several documents in one round trip, in the order of `refs` (None for a missing one)."""
    snaps = {snap.reference.path: snap for snap in clients.firestore().get_all(refs)}
    return [snaps[ref.path].to_dict() if snaps[ref.path].exists else None for ref in refs]


def safe_id(value: str, what: str = "id") -> str:
    """Ids from URLs become document ids: reject what Firestore would read as a path."""
    if not value or len(value) > 200 or "/" in value or value in (".", "..") or value.startswith("__"):
        raise errors.NotFound(f"No such {what}")
    return value


def encode_cursor(values: list) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list):
            raise ValueError
        return values
    except (ValueError, TypeError):
        raise errors.BadRequest("Invalid cursor", code="invalid_cursor") from None
