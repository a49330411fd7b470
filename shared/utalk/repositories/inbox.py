"""The inbox's lists of one workspace: escalations (queue, offers, history) and the agents' roster.

Each list is built by a `*_query` function (what tests/unit/test_messaging_indexes.py checks
against firestore.indexes.json) and read a page at a time with a cursor of its own shape.
"""
from __future__ import annotations

from datetime import datetime

from google.cloud import firestore

from utalk.repositories import queries
from utalk.repositories.base import WorkspaceScope, cursor_id, cursor_time, decode_cursor, encode_cursor


def _where(query, field: str, values):
    """Equality on one value, `in` on several, nothing on none."""
    values = [values] if isinstance(values, str) else list(values or ())
    if len(values) == 1:
        return query.where(filter=firestore.FieldFilter(field, "==", values[0]))
    if values:
        return query.where(filter=firestore.FieldFilter(field, "in", values))
    return query


def escalations_query(scope: WorkspaceScope, *, statuses=(), reason: str | None = None,
                      agent_id: str | None = None, since: datetime | None = None, cursor: str | None = None):
    """Oldest first (the queue's order), then by id."""
    col = scope.collection(queries.ESCALATIONS_LIST.collection)
    query = _where(col, "status", statuses)
    query = _where(query, "reason", reason and [reason])
    query = _where(query, "toAgentId", agent_id and [agent_id])
    if since is not None:
        query = query.where(filter=firestore.FieldFilter("createdAt", ">=", since))
    for name, direction in queries.ESCALATIONS_LIST.order:
        query = query.order_by(name, direction=direction)
    query = query.order_by("__name__", direction="ASCENDING")
    if cursor:
        _, at, last = decode_cursor(cursor, "esc", cursor_time, cursor_id)
        query = query.start_after([at, col.document(last)])
    return query


def agents_query(scope: WorkspaceScope, *, status: str | None = None, cursor: str | None = None):
    """By user id."""
    col = scope.collection("agents")
    query = _where(col, "status", status and [status]).order_by("__name__")
    if cursor:
        _, last = decode_cursor(cursor, "agents", cursor_id)
        query = query.start_after([col.document(last)])
    return query


def page(query, limit: int, cursor_of) -> tuple[list[dict], str | None]:
    """Up to `limit` documents (with their id as `id`) and the cursor after the last, if more follow."""
    docs = [{**s.to_dict(), "id": s.id} for s in query.limit(limit + 1).stream()]
    return docs[:limit], (encode_cursor(cursor_of(docs[limit - 1])) if len(docs) > limit else None)


def escalation_cursor(doc: dict) -> list:
    return ["esc", doc["createdAt"].isoformat(), doc["id"]]


def agent_cursor(doc: dict) -> list:
    return ["agents", doc["id"]]


def get_many(scope: WorkspaceScope, collection: str, ids, fields: list[str] | None = None) -> dict[str, dict]:
    """Documents of one collection by id, in one batched read (missing ones left out)."""
    refs = [scope.collection(collection).document(i) for i in dict.fromkeys(ids) if i]
    if not refs:
        return {}
    return {s.id: s.to_dict() for s in scope.db.get_all(refs, field_paths=fields) if s.exists}
