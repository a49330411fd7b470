"""Choosing agents: the waiting queue, drained oldest first by the `assignments` task queue.

Every request for assignment (a new escalation, a freed slot, an agent coming online) enqueues an
`assignment_run` task; a workspace's runs never overlap (a lease, services/assignment_runs.py), so
the read-decide-write on the agent documents never contends (DESIGN.md, hot documents). Each
assignment is still its own transaction that re-checks everything, so even two runs at once
could not exceed a capacity.
"""
from __future__ import annotations

from utalk import errors, events, logs, pubsub, tasks
from utalk.auth.tokens import Principal
from utalk.models.escalations import AssignmentTask, ConversationAssignedPayload
from utalk.models.events import ConversationUpdated
from utalk.repositories.agents import AgentRepository
from utalk.repositories.escalations import EscalationRepository
from utalk.repositories.workspaces import workspace_settings

log = logs.get("assignment")
BATCH = 25


def request(workspace_id: str, escalation_id: str | None = None, dedup_key: str | None = None) -> bool:
    """Ask for the waiting queue to be drained (fire and forget; duplicates are harmless, and a
    `dedup_key` already used enqueues nothing: False)."""
    return tasks.enqueue("assignment_run", AssignmentTask(workspaceId=workspace_id, escalationId=escalation_id),
                  dedup_key=dedup_key and f"{workspace_id}:{dedup_key}")


def sweep_waiting(workspace_id: str, run_id: str) -> bool:
    """The waiting-queue sweep's work for one workspace with pending escalations: one assignment
    run per workspace and sweep run (capacity may have freed without an event saying so)."""
    return request(workspace_id, dedup_key=f"sweep:{run_id}")


def announce_assigned(workspace_id: str, esc: dict, agent_id: str, previous: str | None = None) -> None:
    conv_id = esc["conversationId"]
    pubsub.wait([
        events.publish("conversation:assigned", workspace_id,
                       ConversationAssignedPayload(conversationId=conv_id, escalationId=esc.get("id"),
                                                   agentId=agent_id, previousAgentId=previous),
                       conversation_id=conv_id, agent_id=agent_id),
        events.publish("conversation:updated", workspace_id,
                       ConversationUpdated(conversationId=conv_id, reason="assignment", status="escalated",
                                           assignedAgent=agent_id, botEnabled=False),
                       conversation_id=conv_id),
    ])


def drain(workspace_id: str) -> dict:
    """Offer waiting escalations, oldest first, until none wait or no agent has a free slot."""
    repo = EscalationRepository(workspace_id)
    route_by_skill = bool((workspace_settings(workspace_id).get("escalation") or {}).get("routeBySkill"))
    assigned, skipped = 0, set()
    while True:
        waiting = [e for e in repo.waiting(BATCH + len(skipped)) if e["id"] not in skipped]
        if not waiting:
            break
        progress = False
        for esc in waiting:
            # Contended (only when runs overlap, never under the workspace's lease) propagates:
            # nothing was written and the task handler answers 503, so Cloud Tasks tries again.
            outcome = repo.assign_next_agent(esc["id"], route_by_skill)
            if outcome.note == "assigned":
                assigned += 1
                progress = True
                announce_assigned(workspace_id, outcome.escalation, outcome.agent_id)
            elif outcome.note == "no_agent":
                if not outcome.extra.get("anyCapacity"):
                    return {"assigned": assigned, "stopped": "no_capacity"}
                skipped.add(esc["id"])   # nobody fits this one (skills, rejections); try younger ones
            else:
                progress = True          # completed or no longer waiting: out of the queue
        if not progress:
            break
    return {"assigned": assigned, "unmatched": len(skipped)}


def set_presence(principal: Principal, status: str) -> dict:
    """An agent's own status; coming online may take waiting escalations."""
    repo = AgentRepository(principal.workspace_id)
    if repo.get(principal.user_id) is None:
        raise errors.NotFound("You have no agent profile", code="agent_not_found")
    repo.set_status(principal.user_id, status)
    if status == "online":
        request(principal.workspace_id)
    return {"userId": principal.user_id, **{k: v for k, v in (repo.get(principal.user_id) or {}).items()
                                            if k in ("status", "maxConversations", "currentConversations",
                                                     "skills")}}
