"""The agent's inbox: list queries and views of escalations and of the agents' roster."""
from __future__ import annotations

from datetime import datetime

from pydantic import Field

from utalk.models.common import Input, Output, Timestamp
from utalk.models.conversations import Conversation
from utalk.models.escalations import Escalation, Reason, Status
from utalk.models.users import AgentStatus, Role, UserStatus


class EscalationQuery(Input):
    """Agents get their own offers and the ones they hold (status assigned/accepted to them);
    admins the queue (status=pending) and everything else."""
    status: Status | None = None
    reason: Reason | None = None
    agentId: str | None = Field(default=None, min_length=1, max_length=128)
    since: datetime | None = None          # escalated at or after (ISO 8601; no offset: UTC)
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=500)


class EscalationItem(Escalation):
    conversation: Conversation | None = None   # null when the caller may not see it (or it is gone)


class AgentQuery(Input):
    status: AgentStatus | None = None
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=500)


class RosterAgent(Output):
    """One agent of the roster: presence, load against capacity, skills."""
    id: str
    name: str = ""
    role: Role | None = None
    userStatus: UserStatus | None = None   # a deactivated user stays listed, offline
    status: AgentStatus = "offline"
    load: int = 0                           # conversations held (currentConversations)
    capacity: int = 10                      # maxConversations
    available: bool = False                 # online with a free slot: assignment may offer to them
    skills: list[str] = []
    statusChangedAt: Timestamp | None = None
    lastAssignedAt: Timestamp | None = None
