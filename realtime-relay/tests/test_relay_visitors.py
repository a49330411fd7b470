"""Web chat visitors on the relay, with real Socket.IO clients: a visitor's socket hears its own
conversation only, as the visitor API shows it (no internal fields), plus agents joining, their
typing and the conversation's status; never workspace, agent or other visitors' events. The
visitor's typing reaches the agents' room; agents' tokens cannot connect as visitors, nor visitors'
as agents, and a visitor may send nothing else."""
from __future__ import annotations

import time
import uuid

import pytest

from relay_harness import JsClient, Publisher, token
from test_relay_auth import _refused

from asyncapi_support import violations  # noqa: E402  (the main suite's: tests/ is on the path from relay_harness)

QUIET = 1.0


@pytest.fixture
def clients(clients):
    """conftest's factory; after the test, what each visitor's client received is checked against
    the visitor events of docs/asyncapi.json (agents here get the tests' own stand-in payloads; the
    e2e tests check agents' events against the document)."""
    made = []

    def make(url, tok=None, **kw):
        made.append((clients(url, tok, **kw), (kw.get("auth") or {}).get("visitor") is True))
        return made[-1][0]

    yield make
    problems = [p for client, visitor in made if visitor for p in violations(client.received, visitor=True)]
    assert not problems, "the relay broke docs/asyncapi.json:\n" + "\n".join(problems)


def _visitor(ws: str, key: str | None = None):
    from utalk.auth import visitor_tokens
    from utalk.auth.visitor_tokens import Visitor

    visitor = Visitor("v" + uuid.uuid4().hex, ws, "ch_web", key or "wk_" + uuid.uuid4().hex, False, 0)
    return visitor, visitor_tokens.issue(visitor)[0]


def _message(conv: str, ws: str, sender_type: str, text: str) -> dict:
    direction = "inbound" if sender_type == "customer" else "outbound"
    return {"conversationId": conv, "message": {
        "id": "msg_" + uuid.uuid4().hex, "conversationId": conv, "workspaceId": ws, "messageId": None,
        "providerId": "internal-provider-id", "type": "text", "text": text, "senderType": sender_type,
        "senderId": "u_secret_agent", "direction": direction, "status": "queued",
        "metadata": {"bot": {"confidence": 0.9, "intent": "hours"}}, "createdAt": "2026-12-02T01:00:00Z"}}


def _names(received) -> list[str]:
    return [name for name, _ in received]


def test_a_visitor_hears_its_own_conversation_only_and_as_the_visitor_api_shows_it(relay, world, clients,
                                                                                    publisher: Publisher, db):
    ws = world["ws_a"]
    me, my_token = _visitor(ws)
    other, other_token = _visitor(ws, me.channel_key)
    conv, other_conv = me.conversation_id, other.conversation_id
    db.document(f"workspaces/{ws}/conversations/{conv}").set({"status": "open"})
    visitor = clients(relay.url, auth={"token": my_token, "visitor": True})
    neighbour = clients(relay.url, auth={"token": other_token, "visitor": True})
    agent = clients(relay.url, token(world["a1"], ws))
    assert agent.call("conversation:join", {"conversationId": conv}) == {"ok": True}

    bot = _message(conv, ws, "bot", "Abrimos de 9 a 18")
    publisher.batch(ws, conv, [publisher.envelope(ws, "message:new", bot)])
    shown = visitor.wait_for("message")
    assert shown == {"id": bot["message"]["id"], "messageId": None, "type": "text", "text": "Abrimos de 9 a 18",
                     "direction": "outbound", "senderType": "bot", "status": "queued",
                     "createdAt": "2026-12-02T01:00:00.000Z"}
    assert agent.wait_for("message:new")["message"]["metadata"]      # agents get the whole message

    publisher.event(ws, "message:sent", {"conversationId": conv, "messageId": bot["message"]["id"], "status": "sent",
                                         "at": "2026-12-02T01:00:01Z"}, audience="conversation", conversationId=conv)
    assert visitor.wait_for("message:status") == {"id": bot["message"]["id"], "status": "sent"}
    publisher.event(ws, "conversation:updated", {"conversationId": conv, "reason": "assignment",
                                                 "assignedAgent": world["a1"]},
                    audience="workspace,conversation", conversationId=conv)
    assert visitor.wait_for("agent:joined") == {"agentId": world["a1"]}
    publisher.event(ws, "conversation:updated", {"conversationId": conv, "reason": "status", "status": "closed"},
                    audience="workspace,conversation", conversationId=conv)
    assert visitor.wait_for("conversation:status") == {"status": "closed"}
    publisher.event(ws, "conversation:updated", {"conversationId": conv, "reason": "read", "unreadCount": 0},
                    audience="workspace,conversation", conversationId=conv)
    assert visitor.wait_for("read") == {}                              # an agent read it: read receipts

    # Nothing meant for the workspace, an agent, a note-like sender or another visitor reaches it.
    publisher.event(ws, "conversation:new", {"conversationId": other_conv}, audience="workspace")
    publisher.event(ws, "assignment:offer", {"n": 1}, audience="agent", agentId=world["a1"])
    publisher.event(ws, "message:new", _message(conv, ws, "system", "internal"), audience="conversation",
                    conversationId=conv)
    publisher.event(ws, "message:new", _message(other_conv, ws, "agent", "for the neighbour"),
                    audience="workspace,conversation", conversationId=other_conv)
    assert neighbour.wait_for("message")["text"] == "for the neighbour"
    heard = visitor.drain(QUIET)
    assert [n for n in _names(heard) if n not in ("message:status",)] == [], heard
    assert "conversation:new" not in _names(neighbour.drain(0))
    publisher.event(world["ws_b"], "message:new", _message(conv, world["ws_b"], "agent", "other tenant"),
                    audience="workspace,conversation", conversationId=conv)
    assert visitor.drain(QUIET) == []


def test_typing_crosses_between_the_visitor_and_the_agents_room(relay, world, clients, db):
    ws = world["ws_a"]
    me, my_token = _visitor(ws)
    conv = me.conversation_id
    db.document(f"workspaces/{ws}/conversations/{conv}").set({"status": "open"})
    visitor = clients(relay.url, auth={"token": my_token, "visitor": True})
    agent = clients(relay.url, token(world["a1"], ws))
    assert agent.call("conversation:join", {"conversationId": conv}) == {"ok": True}

    assert visitor.call("typing:start", {}) == {"ok": True}
    assert agent.wait_for("typing:start") == {"conversationId": conv, "userId": me.address}
    assert agent.call("typing:start", {"conversationId": conv}) == {"ok": True}
    assert visitor.wait_for("typing") == {"typing": True, "senderType": "agent"}
    assert "typing:start" not in _names(visitor.drain(QUIET))     # its own typing is not echoed back

    # A visitor names nothing: another conversation, presence or a join are refused.
    assert visitor.call("conversation:join", {"conversationId": conv}) == {"ok": False, "error": "forbidden"}
    assert visitor.call("presence:update", {"status": "online"})["error"] == "forbidden"


def test_tokens_never_cross_between_visitors_and_agents(relay, world):
    ws = world["ws_a"]
    _, visitor_token = _visitor(ws)
    refused = [{"message": "token_invalid", "data": {"code": "token_invalid"}}]
    assert _refused(relay.url, auth={"token": visitor_token}) == refused
    assert _refused(relay.url, headers={"Authorization": f"Bearer {visitor_token}"}) == refused
    assert _refused(relay.url, auth={"token": token(world["a1"], ws), "visitor": True}) == refused


def test_visitor_sockets_have_a_stricter_event_limit(relay, world, clients):
    me, my_token = _visitor(world["ws_a"])
    visitor = clients(relay.url, auth={"token": my_token, "visitor": True})
    answers = [visitor.call("typing:stop", {}) for _ in range(21)]
    assert answers[-1] == {"ok": False, "error": "rate_limited"}
    assert sum(a == {"ok": True} for a in answers) == 20


def test_a_web_chat_s_sites_may_connect_its_visitors_and_nobody_else(relay, world, db):
    """The official client as a browser on the shop's site: one Origin, the widget's `?channel=`."""
    ws, site = world["ws_a"], "https://shop.example.com"
    me, my_token = _visitor(ws, "wk_" + uuid.uuid4().hex)
    db.document(f"channelRoutes/web:{me.channel_key}").set({"type": "web", "allowedOrigins": [site]})
    url = f"{relay.url}?channel={me.channel_key}"
    _, stranger = _visitor(ws, "wk_" + uuid.uuid4().hex)
    cases = [({"token": my_token, "visitor": True}, site, "connected"),
             ({"token": token(world["a1"], ws)}, site, "origin_not_allowed"),     # no agent through a chat's site
             ({"token": stranger, "visitor": True}, site, "origin_not_allowed"),  # nor another chat's visitor
             ({"token": my_token, "visitor": True}, "https://evil.example", "origin_not_allowed")]
    for auth, origin, outcome in cases:
        client = JsClient(url, auth=auth, headers={"Origin": origin})
        try:
            if outcome == "connected":
                client.wait_for("connected")
            else:
                assert client.wait_for("connect_error")["data"] == {"code": outcome}, (auth, origin)
        finally:
            client.close()
    without_channel = JsClient(relay.url, auth={"token": my_token, "visitor": True}, headers={"Origin": site})
    try:   # the handshake itself: a foreign site that names no chat is refused before any token is read
        assert without_channel.wait_for("connect_error")["message"] != "origin_not_allowed"
    finally:
        without_channel.close()


def test_a_visitor_its_chat_s_route_names_blocked_opens_no_socket_on_any_instance(relays, world, db):
    """services/visitor_revocation.block names the visitor in its chat's route (`blockedVisitors`,
    until its tokens expire): each instance reads it at a visitor's connect, from whatever site, so
    the token that still verifies opens nothing; another visitor of the chat connects."""
    ws, site = world["ws_a"], "https://shop.example.com"
    me, my_token = _visitor(ws)
    _, neighbour = _visitor(ws, me.channel_key)
    db.document(f"channelRoutes/web:{me.channel_key}").set(
        {"type": "web", "allowedOrigins": [site], "blockedVisitors": {me.visitor_id: time.time() + 900}})
    for relay in relays:
        for headers, url in (({}, relay.url), ({"Origin": site}, f"{relay.url}?channel={me.channel_key}")):
            refused = JsClient(url, auth={"token": my_token, "visitor": True}, headers=headers)
            try:
                assert refused.wait_for("connect_error")["data"] == {"code": "visitor_blocked"}, (relay.url, headers)
            finally:
                refused.close()
    allowed = JsClient(f"{relays[1].url}?channel={me.channel_key}", auth={"token": neighbour, "visitor": True},
                       headers={"Origin": site})
    try:
        allowed.wait_for("connected")
    finally:
        allowed.close()


def test_a_visitor_hears_the_escalation_and_lifecycle_events_as_they_are_published(relay, world, clients,
                                                                                    publisher: Publisher, db):
    """The payloads services/escalation.py, assignment.py and lifecycle.py publish (with the escalation
    summary): the bot handing over to the queue is no agent leaving; an offer names its agent; the
    auto-close and a reopen change the conversation's status as a status change does."""
    ws = world["ws_a"]
    me, my_token = _visitor(ws)
    conv = me.conversation_id
    db.document(f"workspaces/{ws}/conversations/{conv}").set({"status": "open"})
    visitor = clients(relay.url, auth={"token": my_token, "visitor": True})

    def updated(payload):
        publisher.event(ws, "conversation:updated", {"conversationId": conv, **payload},
                        audience="workspace,conversation", conversationId=conv)

    summary = {"id": "esc_1", "status": "pending", "reason": "keyword", "agentId": None}
    updated({"reason": "bot", "status": "escalated", "botEnabled": False, "escalationId": "esc_1",
             "escalation": summary})
    assert visitor.drain(QUIET) == []    # the bot handed over to the queue: no agent came or went
    updated({"reason": "assignment", "status": "escalated", "assignedAgent": world["a1"], "botEnabled": False,
             "escalationId": "esc_1", "escalation": {**summary, "status": "assigned", "agentId": world["a1"]}})
    assert visitor.wait_for("agent:joined") == {"agentId": world["a1"]}
    updated({"reason": "assignment", "assignedAgent": None, "escalationId": "esc_1", "escalation": summary})
    assert visitor.wait_for("agent:left") == {}
    updated({"reason": "auto_closed", "status": "closed"})
    assert visitor.wait_for("conversation:status") == {"status": "closed"}
    updated({"reason": "reopened", "status": "open", "assignedAgent": None, "botEnabled": True})
    assert visitor.wait_for("conversation:status") == {"status": "open"}
    assert visitor.drain(QUIET) == []


def test_a_blocked_visitor_hears_the_session_end_and_its_sockets_close_on_every_instance(relays, world, clients,
                                                                                       publisher: Publisher):
    """services/visitor_revocation.block announces `conversation:updated` (reason visitor_blocked);
    whichever instance consumes it, the visitor's sockets on both are told and closed; another
    visitor of the same chat and the agents stay connected."""
    a, b = relays
    ws = world["ws_a"]
    me, my_token = _visitor(ws)
    other, other_token = _visitor(ws, me.channel_key)
    on_a = clients(a.url, auth={"token": my_token, "visitor": True})
    on_b = clients(b.url, auth={"token": my_token, "visitor": True})     # a second tab, on the other instance
    neighbour = clients(b.url, auth={"token": other_token, "visitor": True})
    agent = clients(a.url, token(world["a1"], ws))
    publisher.event(ws, "conversation:updated", {"conversationId": me.conversation_id, "reason": "visitor_blocked"},
                    audience="workspace,conversation", conversationId=me.conversation_id)
    for tab in (on_a, on_b):
        assert tab.wait_for("session:ended") == {"reason": "blocked"}
        assert tab.disconnected.wait(5)
    assert agent.wait_for("conversation:updated")["reason"] == "visitor_blocked"   # agents hear it as it is
    assert not neighbour.disconnected.is_set() and not agent.disconnected.is_set()
    publisher.event(ws, "message:new", _message(other.conversation_id, ws, "agent", "still here"),
                    audience="workspace,conversation", conversationId=other.conversation_id)
    assert neighbour.wait_for("message")["text"] == "still here"
