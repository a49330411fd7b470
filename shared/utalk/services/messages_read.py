"""Reading a conversation's messages for the API."""
from __future__ import annotations

from utalk.models.messages import Message, MessageQuery
from utalk.repositories.messages import MessageRepository


def list_messages(workspace_id: str, conversation_id: str, q: MessageQuery):
    stored, cursor = MessageRepository(workspace_id).list(conversation_id, q.limit, q.cursor)
    return [Message.model_validate(m) for m in stored], cursor
