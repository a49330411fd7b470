"""Realtime event payloads: the contract the Socket.IO relay and the frontends rely on.

Each event travels as `{"id", "event", "workspaceId", "occurredAt", "payload"}` on the
`realtime-events` topic (see docs/architecture.md); `payload` is one of the models below.
"""
from __future__ import annotations

from typing import Literal

from utalk.models.common import Output, Timestamp
from utalk.models.conversations import Conversation, Customer, LastMessage
from utalk.models.escalation_summary import EscalationSummary
from utalk.models.media import MediaUploaded
from utalk.models.messages import Message
from utalk.models.settings import WorkspaceUpdated

EventName = Literal["message:new", "message:sent", "message:delivered", "message:read", "message:failed",
                    "conversation:updated", "conversation:new", "media:uploaded", "workspace:updated"]


class MessageNew(Output):
    """`message:new`: a message was stored (inbound, agent, bot)."""
    conversationId: str
    message: Message


class MessageStatusChanged(Output):
    """`message:sent|delivered|read|failed`: a provider status moved a message forward."""
    conversationId: str
    messageId: str
    status: str
    providerId: str | None = None
    errorCode: str | None = None
    errorMessage: str | None = None
    at: Timestamp


class ConversationUpdated(Output):
    """`conversation:updated`: what changed and why; absent fields did not change."""
    conversationId: str
    # reopened: a customer wrote to a closed conversation; auto_closed: idle past autoCloseDays;
    # visitor_blocked: an admin blocked the web chat's visitor (its live sockets are closed).
    reason: Literal["message", "status", "read", "assignment", "bot", "reopened", "auto_closed", "visitor_blocked"]
    status: str | None = None
    assignedAgent: str | None = None
    # With reason "assignment" or "bot", like assignedAgent, always the state after the change:
    # the active escalation (null: none).
    escalationId: str | None = None
    escalation: EscalationSummary | None = None
    botEnabled: bool | None = None
    unreadCount: int | None = None
    unreadDelta: int | None = None
    lastMessage: LastMessage | None = None


class Typing(Output):
    """`typing:start|stop` published for a web visitor (agents' own typing goes socket to socket)."""
    conversationId: str
    userId: str                               # the visitor's address, `web:<visitorId>`


class ConversationNew(Output):
    """`conversation:new`: a customer opened a conversation."""
    conversationId: str
    channel: str
    channelId: str | None = None
    customer: Customer | None = None
    status: str = "open"


EVENT_PAYLOADS = {"message:new": MessageNew, "message:sent": MessageStatusChanged,
                  "message:delivered": MessageStatusChanged, "message:read": MessageStatusChanged,
                  "message:failed": MessageStatusChanged, "conversation:updated": ConversationUpdated,
                  "conversation:new": ConversationNew, "media:uploaded": MediaUploaded,
                  "typing:start": Typing, "typing:stop": Typing, "workspace:updated": WorkspaceUpdated}

__all__ = ["Conversation", "ConversationNew", "ConversationUpdated", "EVENT_PAYLOADS", "EventName",
           "MediaUploaded", "MessageNew", "MessageStatusChanged", "Typing", "WorkspaceUpdated"]
