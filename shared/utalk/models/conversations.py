"""Conversations: stored shape, API output, list filters and the status state machine."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from utalk.models.common import Input, Output, Timestamp

ConversationStatus = Literal["open", "pending", "closed", "escalated"]
ChannelKind = Literal["whatsapp", "facebook", "web"]
NOT_CLOSED = ("open", "pending", "escalated")      # what the auto-close job looks at

# Status changes the status route allows; anything else is 409 invalid_transition. A conversation
# becomes `escalated` only through the escalation flow (POST .../escalate, the bot, the timeout):
# the route answers 409 use_escalate.
TRANSITIONS: dict[str, set[str]] = {
    "open": {"pending", "closed"},
    "pending": {"open", "closed"},
    "escalated": {"open", "pending", "closed"},
    "closed": {"open"},
}


class Customer(Output):
    address: str
    name: str | None = None
    waId: str | None = None


class LastMessage(Output):
    text: str | None = None
    direction: str | None = None
    type: str | None = None
    at: Timestamp | None = None


class Conversation(Output):
    id: str
    workspaceId: str
    channel: ChannelKind
    channelId: str | None = None
    participants: list[str] = []
    customer: Customer | None = None
    status: ConversationStatus = "open"
    assignedAgent: str | None = None
    botEnabled: bool = True
    unreadCount: int = 0
    messageCount: int = 0
    lastMessage: LastMessage | None = None
    lastMessageAt: Timestamp | None = None
    lastInboundAt: Timestamp | None = None
    closedAt: Timestamp | None = None       # the last close (a later customer message reopens it)
    createdAt: Timestamp | None = None
    updatedAt: Timestamp | None = None


class ConversationQuery(Input):
    status: ConversationStatus | None = None
    channel: ChannelKind | None = None
    assignedAgent: str | None = Field(default=None, max_length=128)
    botEnabled: bool | None = None
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=500)


class SetStatus(Input):
    status: ConversationStatus
    reason: str | None = Field(default=None, max_length=500)
