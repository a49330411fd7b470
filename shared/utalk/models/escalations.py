"""Escalation models: the stored record, API inputs, task payloads and realtime event payloads."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from utalk.models.common import DocId, Input, MessageTask, Output, Timestamp
from utalk.models.escalation_summary import ACTIVE, EscalationSummary, Reason, Status  # noqa: F401 (re-exported)


class Escalation(Output):
    id: str
    workspaceId: str
    conversationId: str
    status: Status
    reason: Reason
    detail: str | None = None
    trigger: str | None = None          # what caused it (message id, or the caller for manual)
    fromType: Literal["bot", "agent", "system"] = "bot"
    fromId: str | None = None
    toAgentId: str | None = None
    skills: list[str] = []
    rejectedBy: list[str] = []
    skippedAgents: list[str] = []       # let an offer expire: others first (services/assignment.py)
    offerExpiresAt: Timestamp | None = None
    # returned_to_bot | closed | auto_closed | pending (left for pending through the status route)
    completion: str | None = None
    createdAt: Timestamp | None = None
    assignedAt: Timestamp | None = None
    acceptedAt: Timestamp | None = None
    completedAt: Timestamp | None = None


class EscalateBody(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "El cliente pide hablar con una persona", "skills": ["billing"]}]})

    reason: str | None = Field(default=None, max_length=500)
    skills: list[str] = Field(default_factory=list, max_length=20)


class AssignBody(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"agentId": "u_ana"}]})

    agentId: str = Field(min_length=1, max_length=200)


class RejectBody(Input):
    reason: str | None = Field(default=None, max_length=500)


class AgentStatusBody(Input):
    status: Literal["online", "offline", "busy"]


class EscalateResult(Output):
    """`POST .../escalate`: the active escalation, and whether this call created it (201) or found it (200)."""
    escalation: Escalation
    created: bool


class ReturnToBotResult(Output):
    conversationId: str
    botEnabled: bool
    status: str
    changed: bool


class AgentPresence(Output):
    """`PATCH /agents/me/status`: the agent's own presence and load after the change."""
    userId: str
    status: Literal["online", "offline", "busy"] | None = None
    maxConversations: int | None = None
    currentConversations: int | None = None
    skills: list[str] | None = None


class AssignmentTask(BaseModel):
    """Body of an `assignment_run` task: assign the workspace's waiting escalations, oldest first."""
    model_config = ConfigDict(extra="forbid")

    workspaceId: DocId
    escalationId: DocId | None = None   # the one that asked, for logs
    followUp: int = Field(default=0, ge=0, le=100_000)   # runs before it found the workspace busy


class TimeoutTask(MessageTask):
    """Body of an `escalation_timeout` task: escalate if this inbound message is still unanswered."""


class OfferTask(BaseModel):
    """Body of an `offer_timeout` task, due when the offer expires: if this very offer still
    stands unanswered, the escalation goes back to the queue (services/assignment.py)."""
    model_config = ConfigDict(extra="forbid")

    workspaceId: DocId
    escalationId: DocId
    offerId: DocId


class AgentReleaseTask(BaseModel):
    """Body of an `agent_release` task: the agent went offline (the relay's presence grace) or was
    deactivated; if they still are, their offers (and per settings their conversations) go back."""
    model_config = ConfigDict(extra="forbid")

    workspaceId: DocId
    agentId: DocId


# -- realtime event payloads ---------------------------------------------------------------------
class EscalationStartedPayload(Output):
    escalationId: str
    conversationId: str
    reason: Reason
    detail: str | None = None
    escalation: EscalationSummary | None = None


class EscalationAcceptedPayload(Output):
    escalationId: str
    conversationId: str
    agentId: str


class ConversationAssignedPayload(Output):
    conversationId: str
    escalationId: str | None = None
    agentId: str
    previousAgentId: str | None = None
    escalation: EscalationSummary | None = None   # "assigned": an offer to accept; "accepted": taken


def _register_events() -> None:
    """Add this module's events to the realtime registry `utalk.events` validates payloads against.

    The registry lives with the messaging events (models/events.py); registering here keeps the
    escalation contract next to the escalation models without editing that module.
    """
    from utalk.models.bot import BotResumedPayload
    from utalk.models.events import EVENT_PAYLOADS

    EVENT_PAYLOADS.setdefault("escalation:started", EscalationStartedPayload)
    EVENT_PAYLOADS.setdefault("escalation:accepted", EscalationAcceptedPayload)
    EVENT_PAYLOADS.setdefault("conversation:assigned", ConversationAssignedPayload)
    EVENT_PAYLOADS.setdefault("bot:resumed", BotResumedPayload)


_register_events()
