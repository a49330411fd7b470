"""Messages of one workspace's conversations, and media records.

The write paths never read the conversation: new messages are `create()`d under deterministic ids
(a duplicate fails the whole batch) and the conversation is updated with field transforms
(see DESIGN.md, "hot documents").
"""
from __future__ import annotations

from google.api_core.exceptions import AlreadyExists
from google.cloud import firestore

from utalk import errors
from utalk.repositories import queries
from utalk.repositories.base import WorkspaceScope, cursor_id, decode_cursor, encode_cursor, read, safe_id
from utalk.repositories.raw_writes import Batch


# The statuses an outbound message may still be in for a watermark of each status to move it.
AWAITING = {"delivered": ("sending", "sent"), "read": ("sending", "sent", "delivered")}


class Duplicate(Exception):
    """The message id already exists: a retried webhook or a retried client send."""


class MessageRepository:
    def __init__(self, workspace_id: str):
        self.scope = WorkspaceScope(workspace_id)
        self.conversations = self.scope.collection("conversations")
        self.media = self.scope.collection("media")

    def ref(self, conversation_id: str, message_id: str):
        return self.conversations.document(safe_id(conversation_id, "conversation")) \
            .collection("messages").document(safe_id(message_id, "message"))

    def get(self, conversation_id: str, message_id: str) -> dict | None:
        return read(self.ref(conversation_id, message_id))

    def store(self, message: dict, conversation_fields: dict, media: list[dict] = (), ahead=None) -> list:
        """One atomic batch, no read: create the message (+ media records), merge the conversation,
        and the rate limit counts `ahead` of it, if any (utalk.ratelimit.ahead).

        Returns the write results; the conversation's transform results tell the caller the new
        counter values. Raises Duplicate when the message already exists (nothing is written).
        Concurrent stores share Commits (`grouped`): one message's writes stay atomic, in order.
        Unset fields (None, empty maps) are left out of the document: readers default them, and
        every stored field is indexed work for Firestore on each of the many messages.
        """
        batch = Batch(self.scope.db)  # raw protobuf: this is every message's write, in and out
        stored = {k: v for k, v in message.items() if v is not None and v != {}}
        batch.create(self.ref(message["conversationId"], message["id"]), stored)
        for record in media:
            batch.set(self.media.document(record["id"]), record)
        batch.set(self.conversations.document(message["conversationId"]), conversation_fields, merge=True)
        try:
            return ahead.commit(batch) if ahead else batch.commit(grouped=True)
        except AlreadyExists:
            raise Duplicate(message["id"]) from None

    def list(self, conversation_id: str, limit: int, cursor: str | None) -> tuple[list[dict], str | None]:
        """Newest first; the cursor is the last message id (its createdAt is read from the document)."""
        col = self.conversations.document(safe_id(conversation_id, "conversation")).collection("messages")
        query = col.order_by("createdAt", direction="DESCENDING").order_by("__name__", direction="DESCENDING")
        if cursor:
            [last_id] = decode_cursor(cursor, cursor_id)
            snap = col.document(last_id).get()
            if not snap.exists:
                raise errors.BadRequest("Invalid cursor", code="invalid_cursor")
            query = query.start_after(snap)
        docs = [d.to_dict() for d in query.limit(limit + 1).stream()]
        next_cursor = encode_cursor([docs[limit - 1]["id"]]) if len(docs) > limit else None
        return docs[:limit], next_cursor

    def awaiting(self, conversation_id: str, status: str, at, limit: int) -> list[dict]:
        """Outbound messages of the conversation still below `status`, sent at or before `at`,
        oldest first (`queries.MESSAGES_AWAITING`): a watermark reads only what it moves."""
        spec = queries.MESSAGES_AWAITING
        col = self.conversations.document(safe_id(conversation_id, "conversation")).collection("messages")
        query = col.where(filter=firestore.FieldFilter(spec.filters[0], "in", list(AWAITING[status]))) \
            .where(filter=firestore.FieldFilter("sentAt", "<=", at))
        for name, direction in spec.order:
            query = query.order_by(name, direction=direction)
        return [d.to_dict() for d in query.limit(limit).stream()]

    def transition(self, conversation_id: str, message_id: str, decide):
        """Read-decide-write on one message document (low contention: one message's callbacks).

        `decide(current_or_None) -> changes or None`; returns (before, changes).
        """
        ref = self.ref(conversation_id, message_id)

        @firestore.transactional
        def run(txn):
            current = read(ref, txn)
            changes = decide(current)
            if changes:
                txn.update(ref, {**changes, "updatedAt": firestore.SERVER_TIMESTAMP})
            return current, changes

        return run(self.scope.db.transaction())

    def get_media(self, media_id: str) -> dict | None:
        return read(self.media.document(safe_id(media_id, "media")))

