"""Conversations of one workspace: reads, lists, the idle ones (auto-close) and status changes."""
from __future__ import annotations

from google.cloud import firestore

from utalk import errors
from utalk.models.conversations import NOT_CLOSED
from utalk.repositories import queries
from utalk.repositories.base import (WorkspaceScope, cursor_id, cursor_key, cursor_time, decode_cursor,
                                     encode_cursor, safe_id)


class ConversationRepository:
    def __init__(self, workspace_id: str):
        self.scope = WorkspaceScope(workspace_id)
        self.conversations = self.scope.collection("conversations")

    def ref(self, conversation_id: str):
        return self.conversations.document(safe_id(conversation_id, "conversation"))

    def get(self, conversation_id: str) -> dict | None:
        snap = self.ref(conversation_id).get()
        return _data(snap) if snap.exists else None

    def _filtered(self, filters: dict):
        """Equality on each given filter (None: the field is null), `in` for a list of values."""
        query = self.conversations
        for name in queries.CONVERSATIONS_BY_ACTIVITY.filters:
            if name in filters:
                value = filters[name]
                op = "in" if isinstance(value, (list, tuple)) else "=="
                query = query.where(filter=firestore.FieldFilter(name, op, list(value) if op == "in" else value))
        return query

    def activity_query(self, filters: dict, cursor: str | None = None):
        """Newest activity first (`filters`: field -> value, see `_filtered`)."""
        query = self._filtered(filters)
        for name, direction in queries.CONVERSATIONS_BY_ACTIVITY.order:
            query = query.order_by(name, direction=direction)
        query = query.order_by("__name__", direction="DESCENDING")
        if cursor:
            at, last = decode_cursor(cursor, cursor_time, cursor_id)
            query = query.start_after([at, self.ref(last)])
        return query

    def list(self, filters: dict, limit: int, cursor: str | None) -> tuple[list[dict], str | None]:
        docs = [_data(d) for d in self.activity_query(filters, cursor).limit(limit + 1).stream()]
        next_cursor = None
        if len(docs) > limit:
            last = docs[limit - 1]
            next_cursor = encode_cursor([last["lastMessageAt"].isoformat(), last["id"]])
        return docs[:limit], next_cursor

    # -- customer lookup: a prefix of the customer's address or name ------------------------------
    def prefix_queries(self, field: str, prefixes: list[str], filters: dict, cursor: str | None = None):
        """One range query per prefix on `field` ("customer.address" or "customer.nameKey"), each in
        (field, id) order from the cursor; `lookup` merges them."""
        spec = queries.CUSTOMER_LOOKUPS[field]
        after = decode_cursor(cursor, spec.tag, cursor_key, cursor_id)[1:] if cursor else None
        built = []
        for prefix in prefixes:
            query = self._filtered(filters).where(filter=firestore.FieldFilter(field, ">=", prefix))
            end = prefix_end(prefix)
            if end is not None:
                query = query.where(filter=firestore.FieldFilter(field, "<", end))
            for name, direction in spec.order:
                query = query.order_by(name, direction=direction)
            query = query.order_by("__name__", direction="ASCENDING")
            if after:
                query = query.start_after([after[0], self.ref(after[1])])
            built.append(query)
        return built

    def lookup(self, field: str, prefixes: list[str], filters: dict, limit: int,
               cursor: str | None) -> tuple[list[dict], str | None]:
        """Conversations whose `field` starts with any of `prefixes`, in (field, id) order."""
        found: dict[str, dict] = {}
        for query in self.prefix_queries(field, prefixes, filters, cursor):
            for snap in query.limit(limit + 1).stream():
                found[snap.id] = _data(snap)
        key = _field_of(field)
        docs = sorted(found.values(), key=lambda d: (key(d), d["id"]))
        next_cursor = None
        if len(docs) > limit:
            last = docs[limit - 1]
            next_cursor = encode_cursor([queries.CUSTOMER_LOOKUPS[field].tag, key(last), last["id"]])
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
            current = _data(snap)
            changes = decide(current)
            if changes:
                txn.update(ref, {**changes, "updatedAt": firestore.SERVER_TIMESTAMP})
            return current, changes

        return run(self.scope.db.transaction())


def _data(snap) -> dict:
    """A conversation as read, named by its document's path (workspaces/{ws}/conversations/{id}):
    a document can lack the fields. A message's commit merges only counters into a conversation
    whose fixed fields its instance remembers writing (services/inbound `_written`), so a document
    gone since comes back without them; the bot dispatcher repairs it (services/lifecycle.repair)."""
    return {**snap.to_dict(), "id": snap.id, "workspaceId": snap.reference.parent.parent.id}


def prefix_end(prefix: str) -> str | None:
    """The smallest string after every string that starts with `prefix` (a range's upper bound)."""
    code = ord(prefix[-1]) + 1
    if code == 0xD800:        # skip the surrogates: not encodable
        code = 0xE000
    return prefix[:-1] + chr(code) if code <= 0x10FFFF else None


def _field_of(path: str):
    names = path.split(".")

    def get(doc: dict) -> str:
        for name in names:
            doc = doc.get(name) if isinstance(doc, dict) else None
        return doc if isinstance(doc, str) else ""
    return get
