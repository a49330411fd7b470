"""Conversation endpoints: list with filters and cursor, get, status changes, mark read."""
from utalk import http
from utalk.models.common import Page
from utalk.models.conversations import Conversation, ConversationQuery, SetStatus
from utalk.services import conversations


@http.endpoint("conversations_list", role="agent", query=ConversationQuery, response=Page[Conversation])
def list_conversations(call: http.Call):
    items, cursor = conversations.list_conversations(call.principal, call.query)
    return {"items": [c.model_dump(mode="json") for c in items], "nextCursor": cursor}


@http.endpoint("conversations_get", role="agent", response=Conversation, raises=(404,))
def get(call: http.Call):
    return conversations.get(call.workspace_id, call.params["conversationId"], call.principal)


@http.endpoint("conversations_set_status", role="agent", body=SetStatus, response=Conversation,
               raises=(403, 404, 409))
def set_status(call: http.Call):
    return conversations.set_status(call.principal, call.params["conversationId"], call.body.status)


@http.endpoint("conversations_mark_read", role="agent", response=Conversation, raises=(404,))
def mark_read(call: http.Call):
    return conversations.mark_read(call.principal, call.params["conversationId"])
