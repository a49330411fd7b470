"""The workspace scope every repository is built on, and cursor encoding for pagination."""
from __future__ import annotations

import base64
import json
from datetime import datetime

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


def safe_id(value: str, what: str = "id") -> str:
    """Ids from URLs become document ids: reject what Firestore would read as a path."""
    if not value or len(value) > 200 or "/" in value or value in (".", "..") or value.startswith("__"):
        raise errors.NotFound(f"No such {what}")
    return value


def encode_cursor(values: list) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *shape) -> list:
    """The values `encode_cursor` was given. With a `shape` (one entry per value: a literal string,
    the tag of the list that made it, or a parser such as `cursor_text`, `cursor_id`, `cursor_time`)
    the cursor must be exactly that, and comes back parsed; anything else is 400 invalid_cursor,
    so a cursor of another list or a hand-edited one never reaches a query."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list):
            raise ValueError
        if shape:
            if len(values) != len(shape):
                raise ValueError
            values = [_part(kind, value) for kind, value in zip(shape, values)]
        return values
    except (ValueError, TypeError, errors.NotFound):
        raise errors.BadRequest("Invalid cursor", code="invalid_cursor") from None


def _part(kind, value):
    if isinstance(kind, str):  # the tag
        if value != kind:
            raise ValueError
        return value
    return kind(value)


def cursor_text(value) -> str:
    if not isinstance(value, str) or not value or len(value) > 1500:
        raise ValueError
    return value


def cursor_id(value) -> str:
    """A document id (what safe_id accepts)."""
    return safe_id(cursor_text(value))


def cursor_time(value) -> datetime:
    return datetime.fromisoformat(cursor_text(value))
