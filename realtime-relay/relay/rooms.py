"""Room names. Every room is prefixed by the workspace, so nothing can cross workspaces."""
from __future__ import annotations


def workspace(ws: str) -> str:
    return f"ws:{ws}"


def agent(ws: str, user_id: str) -> str:
    return f"ws:{ws}:agent:{user_id}"


def conversation(ws: str, conversation_id: str) -> str:
    return f"ws:{ws}:conv:{conversation_id}"
