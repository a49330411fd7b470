"""The agent's inbox, for a screen that reloads: escalations and the agents' roster.

An agent sees their own offers (assigned to them) and the escalations they hold (accepted); admins
see the waiting queue and every escalation, with filters. Each escalation comes with its
conversation as REST shows it to the caller (null where agentVisibility "assigned" hides it).
"""
from __future__ import annotations

from datetime import timezone

from utalk.auth.tokens import Principal
from utalk.models.inbox import AgentQuery, EscalationItem, EscalationQuery, RosterAgent
from utalk.repositories import inbox
from utalk.repositories.agents import DEFAULT_MAX_CONVERSATIONS, has_capacity
from utalk.repositories.base import WorkspaceScope
from utalk.services.conversations import restricted_to, to_conversation

AGENTS_OWN = ("assigned", "accepted")   # what an agent's list holds: offered to them, held by them


def list_escalations(viewer: Principal, q: EscalationQuery) -> tuple[list[EscalationItem], str | None]:
    scope = WorkspaceScope(viewer.workspace_id)
    statuses = [q.status] if q.status else []
    agent_id = q.agentId
    if viewer.role != "admin":
        if agent_id not in (None, viewer.user_id) or (q.status and q.status not in AGENTS_OWN):
            return [], None   # not theirs to see: as empty as a filter that matches nothing
        statuses, agent_id = statuses or list(AGENTS_OWN), viewer.user_id
    since = q.since.replace(tzinfo=timezone.utc) if q.since and q.since.tzinfo is None else q.since
    query = inbox.escalations_query(scope, statuses=statuses, reason=q.reason, agent_id=agent_id, since=since,
                                    cursor=q.cursor)
    docs, cursor = inbox.page(query, q.limit, inbox.escalation_cursor)
    convs = inbox.get_many(scope, "conversations", [d.get("conversationId") for d in docs])
    only = restricted_to(viewer)
    items = []
    for doc in docs:
        conv = convs.get(doc.get("conversationId"))
        visible = conv is not None and (only is None or conv.get("assignedAgent") == only)
        items.append(EscalationItem(**doc, conversation=to_conversation(conv) if visible else None))
    return items, cursor


def roster(viewer: Principal, q: AgentQuery) -> tuple[list[RosterAgent], str | None]:
    """The workspace's agents (admins and agents alike may see who is there and how loaded)."""
    scope = WorkspaceScope(viewer.workspace_id)
    docs, cursor = inbox.page(inbox.agents_query(scope, status=q.status, cursor=q.cursor), q.limit,
                              inbox.agent_cursor)
    users = inbox.get_many(scope, "users", [d["id"] for d in docs], fields=["name", "role", "status"])
    items = []
    for agent in docs:
        user = users.get(agent["id"], {})
        active = user.get("status", "active") == "active"
        items.append(RosterAgent(
            id=agent["id"], name=user.get("name") or "", role=user.get("role"), userStatus=user.get("status"),
            status=agent.get("status") or "offline", load=int(agent.get("currentConversations") or 0),
            capacity=int(agent.get("maxConversations") or DEFAULT_MAX_CONVERSATIONS), skills=agent.get("skills") or [],
            available=active and agent.get("status") == "online" and has_capacity(agent),
            statusChangedAt=agent.get("statusChangedAt"), lastAssignedAt=agent.get("lastAssignedAt")))
    return items, cursor
