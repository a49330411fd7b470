"""An escalation's states and reasons, and the summary of one that its conversation carries.

Apart from models/escalations.py (which registers the escalation events) so the conversation model
can hold the summary without importing the event registry.
"""
from __future__ import annotations

from typing import Literal

from utalk.models.common import Output, Timestamp

Reason = Literal["keyword", "intent", "low_confidence", "timeout", "error", "manual"]
# pending: waiting for an agent; assigned: offered to an agent (holds one of its slots);
# accepted: the agent took it; completed: closed or returned to the bot.
Status = Literal["pending", "assigned", "accepted", "completed"]
ACTIVE = ("pending", "assigned", "accepted")
WAITING = ("pending", "assigned")   # not yet taken by an agent: the inbox's "waiting"


class EscalationSummary(Output):
    """A conversation's current escalation as its REST view and its events show it (stored on the
    conversation as `escalation`, null when none is active), so an agent who missed an event can
    still accept from a reloaded screen. Events carry no times (they are the event's)."""
    id: str
    status: Status
    reason: Reason
    agentId: str | None = None          # offered to (assigned) or held by (accepted)
    createdAt: Timestamp | None = None  # escalated at: its age in the queue (a reject keeps it)
    since: Timestamp | None = None      # in this status since

    @classmethod
    def of(cls, esc: dict) -> "EscalationSummary":
        """From an escalation record (its status and toAgentId after the change)."""
        return cls(id=esc["id"], status=esc["status"], reason=esc["reason"], agentId=esc.get("toAgentId"))
