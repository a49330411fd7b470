"""Conversations: stored shape, API output, list filters and the status state machine."""
from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from utalk.models.common import Input, Output, Timestamp
from utalk.models.escalation_summary import EscalationSummary

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
    escalationId: str | None = None
    escalation: EscalationSummary | None = None   # the active one (null: none)
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
    mine: bool = False          # assigned to the caller
    unassigned: bool = False    # assigned to nobody
    waiting: bool = False       # escalated and not yet accepted (pending or offered)
    # A prefix of the customer's address ("+52155...", "fb:...") or name (case-insensitive as far
    # as the stored name allows, docs/bot-and-escalation.md): ordered by that field, not by activity.
    customer: str | None = Field(default=None, min_length=1, max_length=100)
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=500)


class SetStatus(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "closed"}]})

    status: ConversationStatus
    reason: str | None = Field(default=None, max_length=500)
