"""Who may see and act on a conversation: the one rule the REST API, the relay and firestore.rules apply.

- Admins see every conversation of their workspace. Agents see every one when the workspace's
  `settings.agentVisibility` is "all" (the default when unset), otherwise only those assigned to
  them; any other value, or no workspace document, counts as "assigned" (fail closed, as the rules
  do). Bots and services see none through these paths.
- Closing, returning to the bot and transferring are for the assigned agent or an admin; a
  conversation nobody holds is open to anyone who sees it.

Pure functions (no Firestore here): callers read the documents their own way, sync or async.
"""
from __future__ import annotations

from utalk import errors


def agents_see_all(workspace: dict | None) -> bool:
    """`workspace` is the workspace document (None when it does not exist)."""
    if workspace is None:
        return False
    settings = workspace.get("settings")
    return (settings.get("agentVisibility", "all") if isinstance(settings, dict) else "all") == "all"


def sees_all(role: str, workspace_sees_all: bool) -> bool:
    """Whether a principal of `role` sees every conversation of its workspace."""
    return role == "admin" or (role == "agent" and workspace_sees_all)


def ensure_visible(stored: dict | None, only_agent: str | None) -> dict:
    """404 for a conversation that is missing or that the viewer may not see (indistinguishable).
    `only_agent` is the agent a viewer's sight is limited to (None: the whole workspace)."""
    if stored is None or (only_agent and stored.get("assignedAgent") != only_agent):
        raise errors.NotFound("No such conversation", code="conversation_not_found")
    return stored


def ensure_may_act(role: str, user_id: str, assigned_agent: str | None) -> None:
    """403 unless the actor holds the conversation, nobody does, or the actor is an admin."""
    if role != "admin" and assigned_agent not in (None, user_id):
        raise errors.Forbidden("Only the assigned agent or an admin can do this", code="not_your_conversation")
