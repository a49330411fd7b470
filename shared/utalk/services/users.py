"""Managing a workspace's users and agents (admin use cases) and shaping them for the API."""
from __future__ import annotations

import uuid

from google.cloud import firestore

from utalk import clock, errors
from utalk.auth.passwords import hash_password
from utalk.auth.tokens import Principal
from utalk.models.users import AgentProfile, CreateUser, UpdateUser, User
from utalk.repositories import refresh_tokens
from utalk.repositories.agents import DEFAULT_MAX_CONVERSATIONS
from utalk.repositories.users import UserRepository

AGENT_ROLES = ("admin", "agent")


def to_user(stored: dict, agent: dict | None = None) -> User:
    data = {k: v for k, v in stored.items() if k != "passwordHash"}
    return User(**data, agent=AgentProfile(**agent) if agent else None)


def create_user(admin: Principal, body: CreateUser) -> User:
    repo = UserRepository(admin.workspace_id)
    user_id = str(uuid.uuid4())
    user = {"id": user_id, "email": body.email, "name": body.name, "role": body.role,
            "workspaceId": admin.workspace_id, "tenantId": admin.tenant_id, "status": "active",
            "passwordHash": hash_password(body.password), "createdAt": firestore.SERVER_TIMESTAMP,
            "updatedAt": firestore.SERVER_TIMESTAMP, "lastLogin": None}
    agent = None
    if body.role in AGENT_ROLES or body.agent is not None:
        given = body.agent.model_dump(exclude_none=True) if body.agent else {}
        agent = {"userId": user_id, "status": given.get("status", "offline"),
                 "maxConversations": given.get("maxConversations", DEFAULT_MAX_CONVERSATIONS),
                 "currentConversations": 0, "skills": given.get("skills", []),
                 "createdAt": clock.stamp()}    # where its capacity time starts (analytics occupancy)
    repo.create(user, agent)
    return get_user(admin.workspace_id, user_id)


def get_user(workspace_id: str, user_id: str) -> User:
    repo = UserRepository(workspace_id)
    stored = repo.get(user_id)
    if stored is None:
        raise errors.NotFound("No such user", code="user_not_found")
    return to_user(stored, repo.agent(user_id))


def list_users(workspace_id: str, role, status, limit: int, cursor):
    repo = UserRepository(workspace_id)
    stored, next_cursor = repo.list(role, status, limit, cursor)
    agents = repo.agents_for([u["id"] for u in stored])
    return [to_user(u, agents.get(u["id"])) for u in stored], next_cursor


def update_user(admin: Principal, user_id: str, body: UpdateUser) -> User:
    repo = UserRepository(admin.workspace_id)
    stored = repo.get(user_id)
    if stored is None:
        raise errors.NotFound("No such user", code="user_not_found")
    if user_id == admin.user_id and (body.role not in (None, "admin") or body.status not in (None, "active")):
        raise errors.Conflict("Admins cannot demote or deactivate themselves", code="self_lockout")
    fields = body.model_dump(exclude_none=True, exclude={"agent", "password"})
    if body.password:
        fields["passwordHash"] = hash_password(body.password)
    agent_fields = None
    has_agent = repo.agent(user_id) is not None
    if body.agent is not None:
        agent_fields = {"userId": user_id, **body.agent.model_dump(exclude_none=True)}
        if not has_agent:
            agent_fields = {"status": "offline", "maxConversations": DEFAULT_MAX_CONVERSATIONS,
                            "currentConversations": 0, "skills": [], **agent_fields}
    leaving = body.status in ("inactive", "banned")
    if body.status is not None and (has_agent or agent_fields):
        agent_fields = {**(agent_fields or {}), **_agent_activity(leaving)}
    if fields or agent_fields:
        if fields:
            fields["updatedAt"] = firestore.SERVER_TIMESTAMP
        repo.update(user_id, fields, agent_fields)
    if leaving or body.password:
        refresh_tokens.revoke_user(admin.workspace_id, user_id, reason="account_changed")
    if leaving and has_agent:
        _release(admin.workspace_id, user_id)
    return get_user(admin.workspace_id, user_id)


def _agent_activity(leaving: bool) -> dict:
    """What a user's status does to their agent profile: an inactive agent is offline and out of
    every assignment (`active: false`, even if a socket still says online)."""
    return {"active": False, "status": "offline"} if leaving else {"active": True}


def _release(workspace_id: str, user_id: str) -> None:
    """A deactivated agent's offers and conversations go back to the queue (services/assignment.py)."""
    from utalk.services import assignment

    assignment.release_agent(workspace_id, user_id)


def deactivate_user(admin: Principal, user_id: str) -> User:
    if user_id == admin.user_id:
        raise errors.Conflict("Admins cannot deactivate themselves", code="self_lockout")
    repo = UserRepository(admin.workspace_id)
    stored = repo.get(user_id)
    if stored is None:
        raise errors.NotFound("No such user", code="user_not_found")
    has_agent = repo.agent(user_id) is not None
    # Inactive already: the transaction that made it so also wrote the access document and the agent's
    # activity, so a repeat (a retry, a double click) takes no write lock; what follows is redone.
    if stored.get("status") != "inactive":
        repo.update(user_id, {"status": "inactive", "updatedAt": firestore.SERVER_TIMESTAMP},
                    _agent_activity(True) if has_agent else None)
    refresh_tokens.revoke_user(admin.workspace_id, user_id, reason="deactivated")
    if has_agent:
        _release(admin.workspace_id, user_id)
    return get_user(admin.workspace_id, user_id)
