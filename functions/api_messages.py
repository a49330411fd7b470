"""Message endpoints: a conversation's history (cursor pagination) and an agent's send."""
from utalk import http
from utalk.models.common import Page
from utalk.models.messages import Message, MessageQuery, SendMessage
from utalk.services import conversations, messages_read, messaging


@http.endpoint("messages_list", role="agent", query=MessageQuery, response=Page[Message], raises=(404,))
def list_messages(call: http.Call):
    conversation_id = call.params["conversationId"]
    conversations.get(call.workspace_id, conversation_id, call.principal)  # 404 if not theirs to see
    items, cursor = messages_read.list_messages(call.workspace_id, conversation_id, call.query)
    return {"items": [m.model_dump(mode="json") for m in items], "nextCursor": cursor}


@http.endpoint("messages_send", role="agent", body=SendMessage, response={200: Message, 201: Message},
               raises=(403, 404, 409))
def send(call: http.Call):
    message, created = messaging.send_from_agent(call.principal, call.body)
    return message, 201 if created else 200
