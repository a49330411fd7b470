"""Conversations of one workspace: reads, lists, the idle ones (auto-close) and status changes."""
from __future__ import annotations

from google.cloud import firestore

from utalk import errors
from utalk.models.conversations import NOT_CLOSED
from utalk.repositories import queries
from utalk.repositories.base import (WorkspaceScope, cursor_id, cursor_time, decode_cursor, encode_cursor,
                                     read, safe_id)


class ConversationRepository:
    def __init__(self, workspace_id: str):
        self.scope = WorkspaceScope(workspace_id)
        self.conversations = self.scope.collection("conversations")

    def ref(self, conversation_id: str):
        return self.conversations.document(safe_id(conversation_id, "conversation"))

    def get(self, conversation_id: str) -> dict | None:
        return read(self.ref(conversation_id))

    def list(self, filters: dict, limit: int, cursor: str | None) -> tuple[list[dict], str | None]:
        spec = queries.CONVERSATIONS_BY_ACTIVITY
        query = self.conversations
        for name in spec.filters:
            if filters.get(name) is not None:
                query = query.where(filter=firestore.FieldFilter(name, "==", filters[name]))
        for name, direction in spec.order:
            query = query.order_by(name, direction=direction)
        query = query.order_by("__name__", direction="DESCENDING")
        if cursor:
            at, last_id = decode_cursor(cursor, cursor_time, cursor_id)
            query = query.start_after([at, self.ref(last_id)])
        docs = [d.to_dict() for d in query.limit(limit + 1).stream()]
        next_cursor = None
        if len(docs) > limit:
            last = docs[limit - 1]
            next_cursor = encode_cursor([last["lastMessageAt"].isoformat(), last["id"]])
        return docs[:limit], next_cursor

    def idle(self, before, since, cursor: list | None, limit: int) -> tuple[list[tuple[str, object]], list | None]:
        """(id, lastMessageAt) of conversations not closed whose last message is in [since, before),
        oldest first, after `cursor` ([lastMessageAt iso, id]); the cursor after the page, or None."""
        spec = queries.CONVERSATIONS_IDLE_IN_WORKSPACE
        query = self.conversations.where(filter=firestore.FieldFilter("status", "in", list(NOT_CLOSED))) \
            .where(filter=firestore.FieldFilter("lastMessageAt", "<", before)) \
            .where(filter=firestore.FieldFilter("lastMessageAt", ">=", since))
        for name, direction in spec.order:
            query = query.order_by(name, direction=direction)
        query = query.order_by("__name__").select(["lastMessageAt"]).limit(limit)
        if cursor:
            from datetime import datetime
            query = query.start_after({"lastMessageAt": datetime.fromisoformat(cursor[0]), "__name__": self.ref(cursor[1])})
        rows = [(d.id, d.get("lastMessageAt")) for d in query.stream()]
        return rows, ([rows[-1][1].isoformat(), rows[-1][0]] if len(rows) == limit else None)

    def update(self, conversation_id: str, fields: dict) -> None:
        self.ref(conversation_id).update({**fields, "updatedAt": firestore.SERVER_TIMESTAMP})

    def set_status(self, conversation_id: str, decide) -> tuple[dict, dict]:
        """Read-decide-write in a transaction (an API action, never a hot path).

        `decide(current) -> changes` raises to refuse; returns (before, changes).
        """
        ref = self.ref(conversation_id)

        @firestore.transactional
        def run(txn):
            snap = ref.get(transaction=txn)
            if not snap.exists:
                raise errors.NotFound("No such conversation", code="conversation_not_found")
            current = snap.to_dict()
            changes = decide(current)
            if changes:
                txn.update(ref, {**changes, "updatedAt": firestore.SERVER_TIMESTAMP})
            return current, changes

        return run(self.scope.db.transaction())
