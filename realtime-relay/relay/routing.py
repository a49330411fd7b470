"""Turns one Pub/Sub message into the events to emit, each as (event, payload, rooms), or says why not.

Two forms, told apart by the data, not the topic (docs/architecture.md):
- single (`realtime-events`): data JSON {id, event, workspaceId, occurredAt, payload}; attributes
  event, workspaceId, audience (comma list of workspace|conversation|agent), conversationId, agentId.
- batch (another topic's message that carries events, e.g. `message-received`): data JSON
  {workspaceId, ..., events: [single-form data, ...]} (at most MAX_BATCH_EVENTS); attributes as
  above but workspaceId required and no event. Every event goes to the rooms of the message's
  attributes, in list order; one bad event makes the whole message malformed.
Rooms are always built under the message's workspace.
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
# A carrying message holds the few events one change causes (an inbound message: three at most).
MAX_BATCH_EVENTS = 20


class Malformed(ValueError):
    """The message can never be delivered; it is acked and dropped."""


@dataclass(frozen=True)
class Route:
    event_id: str
    event: str
    workspace_id: str
    payload: object
    rooms: list[str]


# Conversation ids named `conv_...` may also hold ':' (Messenger's `conv_fb:<psid>_fb:<page>`, the
# web chat's `conv_web:<visitor>_web:<key>`): safe, since they only ever end a room name (rooms.py).
_CONVERSATION_ID = re.compile(r"^(?:[A-Za-z0-9_.@+\-]{1,200}|conv_[A-Za-z0-9_.@+:\-]{1,195})$")


def valid_id(value) -> bool:
    return isinstance(value, str) and bool(_ID.match(value))


def valid_conversation_id(value) -> bool:
    return isinstance(value, str) and bool(_CONVERSATION_ID.match(value))


def routes(data: bytes, attributes, carried_only: bool = False) -> list[Route]:
    """Every event of a message, single or batch form, in emission order. With `carried_only` (a
    topic whose messages are for another consumer first, e.g. the bot's) a message that carries
    no events is simply not ours: nothing to emit, nothing wrong."""
    body = _load(data)
    if "events" in body:
        return _batch(body, attributes)
    return [] if carried_only else [_single(body, attributes)]


def _load(data: bytes) -> dict:
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise Malformed("data is not JSON") from None
    if not isinstance(body, dict):
        raise Malformed("data is not an object")
    return body


def _single(body: dict, attributes) -> Route:
    event_id, event, ws = _checked(body)
    # Attributes route, data is delivered: they must agree, or a message could be delivered to
    # one workspace while claiming to be about another.
    if attributes.get("workspaceId", ws) != ws or attributes.get("event", event) != event:
        raise Malformed("attributes disagree with data")
    return Route(event_id, event, ws, body["payload"], _rooms(ws, attributes))


def _batch(body: dict, attributes) -> list[Route]:
    ws, events = body.get("workspaceId"), body["events"]
    if not valid_id(ws):
        raise Malformed("bad workspaceId")
    if attributes.get("workspaceId") != ws:
        raise Malformed("attributes disagree with data")
    if "event" in attributes:  # one name cannot describe several events
        raise Malformed("event attribute on a batch")
    if not isinstance(events, list) or len(events) > MAX_BATCH_EVENTS:
        raise Malformed("bad events list")
    targets = _rooms(ws, attributes)
    out = []
    for item in events:
        if not isinstance(item, dict):
            raise Malformed("batch event is not an object")
        event_id, event, inner_ws = _checked(item)
        if inner_ws != ws:
            raise Malformed("batch event of another workspace")
        out.append(Route(event_id, event, ws, item["payload"], targets))
    return out


def _checked(body: dict) -> tuple[str, str, str]:
    """(id, event, workspaceId) of one event's data, or Malformed."""
    event, ws, event_id = body.get("event"), body.get("workspaceId"), body.get("id")
    if not isinstance(event, str) or not event or len(event) > 100 or event in RESERVED_EVENTS:
        raise Malformed("bad event name")
    if not valid_id(ws):
        raise Malformed("bad workspaceId")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 200:
        raise Malformed("bad id")
    if "payload" not in body:
        raise Malformed("no payload")
    return event_id, event, ws


def _rooms(ws: str, attributes) -> list[str]:
    audience = [a.strip() for a in attributes.get("audience", "").split(",") if a.strip()]
    if not audience or not set(audience) <= AUDIENCES:
        raise Malformed("bad audience")
    targets: list[str] = []
    for kind in dict.fromkeys(audience):
        if kind == "workspace":
            targets.append(rooms.workspace(ws))
        elif kind == "conversation":
            conv = attributes.get("conversationId")
            if not valid_conversation_id(conv):
                raise Malformed("audience conversation without a valid conversationId")
            targets.append(rooms.conversation(ws, conv))
        else:
            agent = attributes.get("agentId")
            if not valid_id(agent):
                raise Malformed("audience agent without a valid agentId")
            targets.append(rooms.agent(ws, agent))
    return targets
