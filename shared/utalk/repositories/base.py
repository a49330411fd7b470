"""The workspace scope every repository is built on, and cursor encoding for pagination."""
from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Any, Callable

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


def valid_id(value) -> bool:
    """Whether `value` can be a Firestore document id: text, no path separator, not reserved.

    Stricter than Firestore (printable, at most 200 characters): ids we mint are short and plain,
    so anything else in a URL or a cursor is someone's garbage, not a document of ours.
    """
    return (isinstance(value, str) and 0 < len(value) <= 200 and value.isprintable() and "/" not in value
            and value not in (".", "..") and not value.startswith("__"))


def safe_id(value: str, what: str = "id") -> str:
    """Ids from URLs become document ids: reject what Firestore would read as a path."""
    if not valid_id(value):
        raise errors.NotFound(f"No such {what}")
    return value


def encode_cursor(values: list) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *fields: Callable[[Any], Any] | str) -> list:
    """A cursor's values, each passed through its field's converter (which raises ValueError or
    TypeError on a wrong value) or equal to its field when that is a string: the tag of the list
    that made it, so a cursor of another list of the same shape is refused too. Anything not of
    that shape is 400 invalid_cursor."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != len(fields):
            raise ValueError
        return [_field(convert, value) for convert, value in zip(fields, values)]
    except (ValueError, TypeError, RecursionError):
        raise errors.BadRequest("Invalid cursor", code="invalid_cursor") from None


def _field(convert, value):
    if isinstance(convert, str):  # the list's tag
        if value != convert:
            raise ValueError("a cursor of another list")
        return value
    return convert(value)


def cursor_text(value) -> str:
    """A cursor field holding a string (an email, say)."""
    if not isinstance(value, str) or not value.isprintable() or len(value) > 300:
        raise ValueError("not a cursor string")
    return value


def cursor_key(value) -> str:
    """A cursor field holding a stored string a list is ordered by (a customer's name, say): any
    string Firestore indexes (at most 1500 bytes)."""
    if not isinstance(value, str) or len(value.encode()) > 1500:   # a lone surrogate: UnicodeEncodeError
        raise ValueError("not a cursor key")
    return value


def cursor_id(value) -> str:
    """A cursor field holding a document id."""
    if not valid_id(value):
        raise ValueError("not a document id")
    return value


def cursor_time(value) -> datetime:
    """A cursor field holding an ISO 8601 timestamp (naive means UTC, as Firestore reads it)."""
    if not isinstance(value, str):
        raise TypeError("not a timestamp")
    at = datetime.fromisoformat(value)
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)
