"""Moving one conversation's messages into another of the same workspace (a web chat visitor who
identifies: its anonymous conversation is carried into the identified one, docs/webchat.md).

Messages are moved, not linked: every reader (history, the agents' Firestore listeners, the bot's
context, analytics' aggregations) reads one conversation's `messages`, so after the move they all
see one thread with nothing to join. Each message keeps its id and `createdAt`, so the thread is
in the order it was written, and lands once: a page of messages is copied and deleted from the
source in one batch whose deletes require the documents to be as they were read, with the two
conversations' counters moved by the page's size. A retry (or a concurrent request) that finds a
page moved already fails that batch, reads again and moves only what is left: nothing is copied
or counted twice.
"""
from __future__ import annotations

from google.api_core.exceptions import AlreadyExists, FailedPrecondition, NotFound
from google.cloud import firestore

from utalk import errors
from utalk.repositories.base import WorkspaceScope, read

MAX_LOST = 10                  # pages lost to concurrent changes before answering 409 (the client retries)
PAGE = 200                     # messages per batch: 2 writes each, plus the two conversations
# What a new target takes over from the source; its assignment and escalation are not moved (the
# caller closes the source through the conversation service, which frees the agent's slot).
KEPT = ("createdAt", "lastMessage", "lastMessageAt", "lastInboundAt", "priority", "tags")


def merge(workspace_id: str, source_id: str, target_id: str, fixed: dict, sender: str) -> int | None:
    """Move every message of `source_id` into `target_id` (made open, with `fixed` fields and the
    source's first and last message times, when it does not exist yet); the source is left empty,
    naming `mergedInto`. Returns how many messages this call moved (0 when done already), None when
    there is no source."""
    scope = WorkspaceScope(workspace_id)
    conversations = scope.collection("conversations")
    source_ref, target_ref = conversations.document(source_id), conversations.document(target_id)
    source = read(source_ref)
    if source is None:
        return None                           # the anonymous visitor never wrote: nothing to carry
    try:                                      # first, so a retry finds it and does not take the state again
        target_ref.create({**{k: source[k] for k in KEPT if k in source}, **fixed, "status": "open",
                           "botEnabled": True, "assignedAgent": None, "messageCount": 0, "unreadCount": 0,
                           "updatedAt": firestore.SERVER_TIMESTAMP})
    except AlreadyExists:                     # the identified visitor has a conversation: it keeps its state
        pass
    moved, lost = 0, 0
    while True:
        page = list(source_ref.collection("messages").order_by("__name__").limit(PAGE).stream())
        if not page:
            break
        batch, unread = scope.db.batch(), 0
        for snap in page:
            message = snap.to_dict()
            unread += message.get("direction") == "inbound" and message.get("status") != "read"
            metadata = {**(message.get("metadata") or {}), "mergedFrom": source_id}
            batch.set(target_ref.collection("messages").document(snap.id),
                      {**message, "conversationId": target_id, "metadata": metadata,
                       **({"sender": sender} if message.get("senderType") == "customer" else {})})
            batch.delete(snap.reference, option=scope.db.write_option(last_update_time=snap.update_time))
        batch.set(target_ref, {"messageCount": firestore.Increment(len(page)),
                               "unreadCount": firestore.Increment(unread),
                               "updatedAt": firestore.SERVER_TIMESTAMP}, merge=True)
        batch.set(source_ref, {"messageCount": firestore.Increment(-len(page)),
                               "unreadCount": firestore.Increment(-unread)}, merge=True)
        try:
            batch.commit()
        except (FailedPrecondition, NotFound):   # another request moved (some of) this page: read again
            lost += 1
            if lost > MAX_LOST:
                raise errors.Contended("The conversation kept changing while it was carried over") from None
            continue
        moved += len(page)
    _later_last_message(target_ref, source)
    source_ref.set({"mergedInto": target_id, "messageCount": 0, "unreadCount": 0,
                    "updatedAt": firestore.SERVER_TIMESTAMP}, merge=True)
    return moved


def _later_last_message(target_ref, source: dict) -> None:
    """The target's preview is the newer of the two threads' last messages."""
    at = source.get("lastMessageAt")
    if at is None or not source.get("lastMessage"):
        return
    target = read(target_ref) or {}
    if target.get("lastMessageAt") is None or target["lastMessageAt"] < at:
        target_ref.set({"lastMessage": source["lastMessage"], "lastMessageAt": at}, merge=True)
