"""Agent profiles (`workspaces/{ws}/agents/{userId}`) as assignment sees them, and the choice rule.

`active: false` (written when the user is deactivated) keeps an agent out of every choice even if a
socket still reports them online."""
from __future__ import annotations

from google.cloud import firestore

from utalk import clock
from utalk.repositories.base import WorkspaceScope, read, safe_id
from utalk.text import normalise_skills

DEFAULT_MAX_CONVERSATIONS = 10


def has_capacity(agent: dict) -> bool:
    return int(agent.get("currentConversations") or 0) < int(agent.get("maxConversations")
                                                             or DEFAULT_MAX_CONVERSATIONS)


def pick_agent(agents: list[dict], *, skills=(), rejected=(), skipped=(), route_by_skill: bool = False
               ) -> dict | None:
    """Online, active, under capacity, not among those who rejected, with the skills if routing by
    skill (normalised on both sides); those who let an offer of it expire (`skipped`) only when
    nobody else fits; fewest current conversations first, then the one assigned longest ago, then by
    id (stable)."""
    needed = set(normalise_skills(skills))
    candidates = [a for a in agents
                  if a.get("status") == "online" and a.get("active", True) and has_capacity(a)
                  and a.get("userId") not in rejected
                  and (not route_by_skill or needed <= set(normalise_skills(a.get("skills"))))]
    candidates = [a for a in candidates if a["userId"] not in skipped] or candidates
    if not candidates:
        return None
    return min(candidates, key=lambda a: (int(a.get("currentConversations") or 0),
                                          str(a.get("lastAssignedAt") or ""), a["userId"]))


class AgentRepository:
    def __init__(self, workspace_id: str):
        self.scope = WorkspaceScope(workspace_id)
        self.agents = self.scope.collection("agents")

    def ref(self, user_id: str):
        return self.agents.document(safe_id(user_id, "agent"))

    def get(self, user_id: str) -> dict | None:
        return read(self.ref(user_id))

    def online_query(self):
        return self.agents.where(filter=firestore.FieldFilter("status", "==", "online"))

    def set_status(self, user_id: str, status: str) -> None:
        self.ref(user_id).update({"status": status, "statusChangedAt": clock.stamp()})
