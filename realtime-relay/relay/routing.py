"""Turns one `realtime-events` Pub/Sub message into (event, payload, rooms), or says why not.

Format (docs/architecture.md): data JSON {id, event, workspaceId, occurredAt, payload};
attributes event, workspaceId, audience (comma list of workspace|conversation|agent),
conversationId, agentId. Rooms are always built under the message's workspace.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from . import rooms

# Ids become parts of room names joined by ':'; refusing ':' (and anything exotic) means no id
# can forge another room's name, e.g. a workspace id "a:conv:x" colliding with a conversation room.
_ID = re.compile(r"^[A-Za-z0-9_.@+\-]{1,200}$")
RESERVED_EVENTS = {"connect", "connect_error", "disconnect", "disconnecting", "error", "newListener",
                   "removeListener", "message"}
AUDIENCES = {"workspace", "conversation", "agent"}


class Malformed(ValueError):
    """The message can never be delivered; it is acked and dropped."""


@dataclass(frozen=True)
class Route:
    event_id: str
    event: str
    workspace_id: str
    payload: object
    rooms: list[str]


def valid_id(value) -> bool:
    return isinstance(value, str) and bool(_ID.match(value))


def parse(data: bytes, attributes) -> Route:
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise Malformed("data is not JSON") from None
    if not isinstance(body, dict):
        raise Malformed("data is not an object")
    event, ws, event_id = body.get("event"), body.get("workspaceId"), body.get("id")
    if not isinstance(event, str) or not event or len(event) > 100 or event in RESERVED_EVENTS:
        raise Malformed("bad event name")
    if not valid_id(ws):
        raise Malformed("bad workspaceId")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 200:
        raise Malformed("bad id")
    if "payload" not in body:
        raise Malformed("no payload")
    # Attributes route, data is delivered: they must agree, or a message could be delivered to
    # one workspace while claiming to be about another.
    if attributes.get("workspaceId", ws) != ws or attributes.get("event", event) != event:
        raise Malformed("attributes disagree with data")
    audience = [a.strip() for a in attributes.get("audience", "").split(",") if a.strip()]
    if not audience or not set(audience) <= AUDIENCES:
        raise Malformed("bad audience")
    targets: list[str] = []
    for kind in dict.fromkeys(audience):
        if kind == "workspace":
            targets.append(rooms.workspace(ws))
        elif kind == "conversation":
            conv = attributes.get("conversationId")
            if not valid_id(conv):
                raise Malformed("audience conversation without a valid conversationId")
            targets.append(rooms.conversation(ws, conv))
        else:
            agent = attributes.get("agentId")
            if not valid_id(agent):
                raise Malformed("audience agent without a valid agentId")
            targets.append(rooms.agent(ws, agent))
    return Route(event_id, event, ws, body["payload"], targets)
