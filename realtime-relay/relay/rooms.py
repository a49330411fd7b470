"""Room names. Every room is prefixed by the workspace, so nothing can cross workspaces; a
conversation id may hold ':' (`conv_fb:<psid>_fb:<page>`, `conv_web:...`), no other id may.

`workspace(ws)` holds the sockets that see every conversation of the workspace (admins, and agents
while its agentVisibility is "all"): events of audience `workspace` go there. `limited(ws)` holds
the others (agents under "assigned", bots, services), who hear a conversation only through its
own room. A socket is in exactly one of the two; what every member may hear (presence) goes to both.
"""
from __future__ import annotations

CONVERSATION = ":conv:"
VISITOR = ":visitor:"


def workspace(ws: str) -> str:
    return f"ws:{ws}"


def limited(ws: str) -> str:
    return f"ws:{ws}:limited"


def members(ws: str) -> list[str]:
    """Every socket of the workspace."""
    return [workspace(ws), limited(ws)]


def agent(ws: str, user_id: str) -> str:
    return f"ws:{ws}:agent:{user_id}"


def conversation(ws: str, conversation_id: str) -> str:
    return f"ws:{ws}{CONVERSATION}{conversation_id}"


def visitor(ws: str, conversation_id: str) -> str:
    """A web chat visitor's own room (relay/visitors.py): only their sockets are ever in it."""
    return f"ws:{ws}{VISITOR}{conversation_id}"


def is_visitor(room: str) -> bool:
    """Whether `room` is a `visitor(ws, conversation)` room (its workspace id holds no ':')."""
    head, sep, conv = room.partition(VISITOR)
    return bool(sep and conv and head.startswith("ws:") and ":" not in head[3:])


def parse_workspace(room: str) -> str | None:
    """The workspace of a `workspace(ws)` room's name, None for any other room."""
    head, _, ws = room.partition("ws:")
    return ws if not head and ws and ":" not in ws else None


def parse_conversation(room: str) -> tuple[str, str] | None:
    """(workspace, conversation) of a conversation room's name, None for any other room. Unambiguous:
    workspace ids never contain ':' (routing.valid_id), so the first CONVERSATION ends the workspace."""
    head, sep, conv = room.partition(CONVERSATION)
    if not sep or not head.startswith("ws:") or ":" in head[3:] or not conv:
        return None
    return head[3:], conv
