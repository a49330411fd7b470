"""The AsyncAPI 3 document of the realtime (Socket.IO) contract.

Server-to-client events: every `EVENT_PAYLOADS` row (the backend publishes them; the relay emits
each payload to the rooms its Pub/Sub attributes name) plus the ones the relay itself emits
(presence, typing, errors). Client-to-server events with their payloads, acks and error codes,
and the connect handshake with its refusal codes, are the relay's (realtime-relay/relay/
handlers.py, auth.py): they are listed here once, and tests/e2e check what the relay really sends
against this document.
"""
from __future__ import annotations

from pydantic.json_schema import models_json_schema

from contract import ROOT

DOC = ROOT / "docs" / "asyncapi.json"
VERSION = "1.0.0"
REF = "#/components/schemas/{model}"

ROOMS = {
    "ws:{workspaceId}": "Sockets that see every conversation of the workspace (admins; agents while the workspace's "
                        "`settings.agentVisibility` is `all`): every event of audience `workspace`.",
    "ws:{workspaceId}:limited": "Agents under `agentVisibility: assigned`, bots and services: they hear a conversation "
                                "only through its own room.",
    "ws:{workspaceId}:conv:{conversationId}": "A conversation's room: events of audience `conversation`; limited "
                                              "agents are in the rooms of the conversations assigned to them.",
    "ws:{workspaceId}:agent:{userId}": "Every socket of one user: events of audience `agent`.",
    "ws:{workspaceId}:visitor:{conversationId}": "A web chat visitor's sockets (connected with `auth: {token, "
                                                 "visitor: true}` and the visitor token): the `visitor` events "
                                                 "below only, never another room's.",
}
CONNECT_REFUSALS = {
    "token_missing": "No `auth.token` and no `Authorization: Bearer` header",
    "token_invalid": "The token does not verify (or names ids unusable in rooms)",
    "token_expired": "The token expired",
    "workspace_mismatch": "`auth.workspaceId` names another workspace than the token's",
    "unavailable": "The workspace's settings (or, for a visitor, its web chat's route) could not be read: "
                   "try again",
    "origin_not_allowed": "The handshake came from a site that is not the visitor's web chat's (agents never "
                          "connect from a chat's site)",
    "visitor_blocked": "An admin blocked this web chat visitor",
}
# Codes of a failed client event: in its ack `{ok: false, error}` and in the `error` event.
EVENT_ERRORS = {
    "rate_limited": "More than RELAY_EVENTS_PER_MINUTE (50) events in a minute on this socket",
    "payload_too_large": "The event's JSON exceeds RELAY_MAX_EVENT_BYTES (64 KB)",
    "invalid_payload": "Not exactly one JSON object argument, or a field of it is invalid",
    "unknown_event": "No such client event",
    "malformed_packet": "A Socket.IO packet that does not decode (error event only)",
    "not_in_conversation": "typing: the socket has not joined that conversation",
    "not_found": "join: no such conversation, or not one this socket may see (ack only)",
    "forbidden": "join: bots and services; presence:update: roles other than admin and agent",
    "token_mismatch": "auth:refresh: a token of another user or workspace",
    "token_invalid": "auth:refresh: the token does not verify",
    "token_expired": "The session's token expired (then the server disconnects the socket)",
    "not_connected": "The socket's session is gone",
    "internal": "The relay failed serving it (logged)",
}
_ID = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^/:]+$"}
_CONVERSATION = {"type": "object", "required": ["conversationId"], "properties": {"conversationId": _ID}}
# name -> (payload schema, reply schema beyond {ok}, the error codes its ack can carry, summary)
_GUARD = ["rate_limited", "payload_too_large", "invalid_payload", "not_connected", "internal"]
CLIENT_EVENTS = {
    "conversation:join": (_CONVERSATION, {}, _GUARD + ["not_found", "forbidden"],
                          "Hear a conversation's events (its room)"),
    "conversation:leave": (_CONVERSATION, {}, _GUARD, "Stop hearing a conversation joined before"),
    "typing:start": (_CONVERSATION, {}, _GUARD + ["not_in_conversation"],
                     "Tell the conversation's room this user is typing"),
    "typing:stop": (_CONVERSATION, {}, _GUARD + ["not_in_conversation"], "Tell the room this user stopped typing"),
    "presence:update": ({"type": "object", "required": ["status"],
                         "properties": {"status": {"enum": ["online", "offline", "busy"]}}}, {},
                        _GUARD + ["forbidden"], "Set this agent's presence (written to its agent profile)"),
    "auth:refresh": ({"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}},
                     {"expiresAt": {"type": "number", "description": "Unix time the new token expires"}},
                     _GUARD + ["token_invalid", "token_expired", "token_mismatch"],
                     "Extend the session with a new access token of the same user and workspace"),
}
# Events the relay emits on its own (not published by the backend): name -> (schema, rooms, summary)
RELAY_EVENTS = {
    "presence:update": ({"type": "object", "required": ["userId", "status"], "properties": {
        "userId": {"type": "string"}, "status": {"enum": ["online", "offline", "busy"]}}},
        ["ws:{workspaceId}", "ws:{workspaceId}:limited"], "An agent's presence changed"),
    "typing:start": ({"type": "object", "required": ["conversationId", "userId"], "properties": {
        "conversationId": {"type": "string"}, "userId": {"type": "string"}}},
        ["ws:{workspaceId}:conv:{conversationId}"], "Someone in the conversation's room is typing"),
    "typing:stop": ({"type": "object", "required": ["conversationId", "userId"], "properties": {
        "conversationId": {"type": "string"}, "userId": {"type": "string"}}},
        ["ws:{workspaceId}:conv:{conversationId}"], "They stopped typing"),
    "error": ({"type": "object", "required": ["code"], "properties": {
        "code": {"enum": sorted(EVENT_ERRORS)}, "event": {"type": "string", "maxLength": 100}}},
        ["the socket"], "A client event failed, a packet did not decode, or the token expired"),
}


# What a web chat visitor hears (realtime-relay/relay/visitors.py derives them from the events of
# their conversation): name -> (payload schema, or None for models/webchat.Shown, summary).
VISITOR_EVENTS = {
    "message": (None, "A message of the visitor's conversation as the visitor API shows it"),
    "message:status": ({"type": "object", "required": ["id", "status"], "properties": {
        "id": {"type": "string"}, "status": {"enum": ["sent", "delivered", "read", "failed"]}}},
        "A message to or from the visitor moved on"),
    "typing": ({"type": "object", "required": ["typing", "senderType"], "properties": {
        "typing": {"type": "boolean"}, "senderType": {"const": "agent"}}}, "The agent started or stopped typing"),
    "read": ({"type": "object", "properties": {}},
             "An agent read the conversation: every message the visitor sent so far is read"),
    "agent:joined": ({"type": "object", "required": ["agentId"], "properties": {"agentId": {"type": "string"}}},
                     "An agent took the conversation (the history names them)"),
    "agent:left": ({"type": "object", "properties": {}}, "No agent holds the conversation any more"),
    "conversation:status": ({"type": "object", "required": ["status"], "properties": {
        "status": {"type": "string"}}}, "The conversation was closed or reopened"),
    "session:ended": ({"type": "object", "required": ["reason"], "properties": {"reason": {"const": "blocked"}}},
                      "The business blocked this visitor: the relay then closes the socket"),
    "error": (RELAY_EVENTS["error"][0], "A client event of the visitor failed, or its token expired"),
}


def event_key(event: str) -> str:
    """A component key for an event name (AsyncAPI keys allow no ':')."""
    return event.replace(":", "_")


def server_events() -> dict:
    """The payload model of every event the backend publishes (EVENT_PAYLOADS, complete)."""
    import utalk.models.escalations  # noqa: F401  registers its events in EVENT_PAYLOADS
    from utalk.models.events import EVENT_PAYLOADS

    return dict(sorted(EVENT_PAYLOADS.items()))


def _ack(event: str, extra: dict, codes: list[str]) -> dict:
    return {"oneOf": [
        {"type": "object", "required": ["ok"], "properties": {"ok": {"const": True}, **extra}},
        {"type": "object", "required": ["ok", "error"],
         "properties": {"ok": {"const": False}, "error": {"enum": sorted(set(codes))}}},
    ], "description": f"The ack of `{event}`"}


def build() -> dict:
    from utalk.models.webchat import Shown

    published = server_events()
    models = sorted({m for m in published.values()} | {Shown}, key=lambda m: m.__name__)
    refs, defs = models_json_schema([(m, "serialization") for m in models], ref_template=REF)
    schemas = dict(sorted(defs.get("$defs", {}).items()))
    messages: dict[str, dict] = {}
    operations: dict[str, dict] = {}
    channel_messages: dict[str, dict] = {}

    def add(key: str, message: dict) -> None:
        messages[key] = message
        channel_messages[key] = {"$ref": f"#/components/messages/{key}"}

    for event, model in published.items():
        key = event_key(event)
        add(key, {"name": event, "title": event, "summary": (model.__doc__ or event).strip().splitlines()[0],
                  "payload": refs[(model, "serialization")],
                  "x-audience": "The rooms its publisher's `audience` attribute names: `workspace` -> ws:{workspaceId} "
                                "(and its conversation room), `conversation` -> ws:{workspaceId}:conv:{conversationId}, "
                                "`agent` -> ws:{workspaceId}:agent:{agentId}"})
        operations[f"emit_{key}"] = {"action": "send", "channel": {"$ref": "#/channels/socket"},
                                     "summary": f"The relay emits `{event}`",
                                     "messages": [{"$ref": f"#/channels/socket/messages/{key}"}]}
    for event, (schema, rooms, summary) in RELAY_EVENTS.items():
        key = event_key(event) + ("_server" if event in CLIENT_EVENTS else "")
        add(key, {"name": event, "title": event, "summary": summary, "payload": schema, "x-rooms": rooms})
        operations[f"emit_{key}"] = {"action": "send", "channel": {"$ref": "#/channels/socket"},
                                     "summary": f"The relay emits `{event}`",
                                     "messages": [{"$ref": f"#/channels/socket/messages/{key}"}]}
    for event, (schema, summary) in VISITOR_EVENTS.items():
        key = "visitor_" + event_key(event)
        add(key, {"name": event, "title": f"{event} (visitor)", "summary": summary,
                  "payload": refs[(Shown, "serialization")] if schema is None else schema,
                  "x-rooms": ["ws:{workspaceId}:visitor:{conversationId}"]})
        operations[f"emit_{key}"] = {"action": "send", "channel": {"$ref": "#/channels/socket"},
                                     "summary": f"The relay emits `{event}` to a web chat visitor",
                                     "messages": [{"$ref": f"#/channels/socket/messages/{key}"}]}
    for event, (schema, extra, codes, summary) in CLIENT_EVENTS.items():
        key, ack = event_key(event) + "_client", event_key(event) + "_ack"
        add(key, {"name": event, "title": event, "summary": summary, "payload": schema})
        add(ack, {"name": f"{event} ack", "title": f"{event} ack", "payload": _ack(event, extra, codes)})
        operations[f"on_{event_key(event)}"] = {
            "action": "receive", "channel": {"$ref": "#/channels/socket"}, "summary": summary,
            "messages": [{"$ref": f"#/channels/socket/messages/{key}"}],
            "reply": {"channel": {"$ref": "#/channels/socket"},
                      "messages": [{"$ref": f"#/channels/socket/messages/{ack}"}]}}
    add("connect", {"name": "connect", "title": "connect (handshake auth)",
                    "summary": "`io(url, {auth: {token, workspaceId?}})`, or the header `Authorization: Bearer <token>`",
                    "payload": {"type": "object", "properties": {
                        "token": {"type": "string", "description": "The REST access JWT (POST /api/v1/auth/login)"},
                        "workspaceId": {"type": "string", "description": "Optional: refused unless the token's"}}}})
    add("connect_error", {"name": "connect_error", "title": "connect_error (refusal)",
                          "summary": "The connection was refused; `data.code` says why",
                          "payload": {"type": "object", "required": ["message", "data"], "properties": {
                              "message": {"enum": sorted(CONNECT_REFUSALS)},
                              "data": {"type": "object", "required": ["code"],
                                       "properties": {"code": {"enum": sorted(CONNECT_REFUSALS)}}}},
                              "description": "; ".join(f"`{k}`: {v}" for k, v in CONNECT_REFUSALS.items())}})
    operations["on_connect"] = {
        "action": "receive", "channel": {"$ref": "#/channels/socket"}, "summary": "Connect with the access token",
        "messages": [{"$ref": "#/channels/socket/messages/connect"}],
        "reply": {"channel": {"$ref": "#/channels/socket"},
                  "messages": [{"$ref": "#/channels/socket/messages/connect_error"}]}}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "UTalk realtime (Socket.IO)", "version": VERSION,
                 "description": "The Socket.IO v4 contract of the relay (realtime-relay/README.md), generated by "
                                "`python -m contract --write`. Every event carries one JSON object argument. "
                                "Client events answer an ack `{ok: true}` or `{ok: false, error}`; a failure also "
                                "emits `error` `{code, event}`. Error codes: "
                                + "; ".join(f"`{k}`: {v}" for k, v in EVENT_ERRORS.items()) + "."},
        "defaultContentType": "application/json",
        "servers": {"relay": {"host": "localhost:3002", "protocol": "ws", "pathname": "/socket.io/",
                              "description": "Socket.IO v4 over engine.io 4 (WebSocket or long-polling); "
                                             "deployed on Railway"}},
        "channels": {"socket": {
            "address": "/",
            "title": "The default namespace",
            "description": "One namespace; who hears what is decided by rooms, always prefixed by the workspace: "
                           + " ".join(f"`{room}`: {text}" for room, text in ROOMS.items()),
            "messages": channel_messages,
            "x-rooms": ROOMS,
        }},
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def server_schema(doc: dict, event: str, visitor: bool = False) -> dict:
    """The JSON Schema a payload the relay emits as `event` (to a web chat visitor: `visitor`) must
    satisfy (components included, so its $refs resolve); KeyError for an event the document does not have."""
    for op in doc["operations"].values():
        if op["action"] == "send":
            key = op["messages"][0]["$ref"].rsplit("/", 1)[1]
            message = doc["components"]["messages"][key]
            if message["name"] == event and key.startswith("visitor_") == visitor:
                return {**message["payload"], "components": doc["components"]}
    raise KeyError(event)
