"""agentVisibility in the relay (issue 12.6): under "assigned" an agent hears a conversation only
while it is theirs; admins hear everything; under "all" every agent does (no regression).

Two relay instances on one Redis, real Pub/Sub publishes (inbound batches on `message-received`,
single events on `realtime-events`), python-socketio and the official JS client. The agents sit on
different instances than the event's consumer half of the time, so every room move below also
crosses instances through the Redis manager.
"""
from __future__ import annotations

import time

import pytest

from relay_harness import VISIBILITY_TTL_SECONDS, JsClient, new_id, token

QUIET = 1.0  # seconds to listen for what must not arrive


def _names(client, seconds: float = QUIET) -> list[tuple[str, dict]]:
    """(event, payload) received during `seconds`; `error` events (the echo of a refused call this
    test made itself) left out."""
    return [(name, args[0] if args else None) for name, args in client.drain(seconds) if name != "error"]


def _wait_events(client, want: int, timeout: float = 10.0) -> list[tuple[str, dict]]:
    got, deadline = [], time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        got += _names(client, 0.1)
    return got + _names(client, 0.3)


@pytest.fixture
def team(db):
    """Workspace `ws` with agentVisibility "assigned": conv1 is agent1's, conv2 is agent2's, conv3 nobody's."""
    t = {"ws": new_id("ws"), "agent1": new_id("u"), "agent2": new_id("u"), "admin": new_id("u"),
         "conv1": new_id("conv"), "conv2": new_id("conv"), "conv3": new_id("conv")}
    db.document(f"workspaces/{t['ws']}").set({"tenantId": "tenant_test", "settings": {"agentVisibility": "assigned"}})
    for conv, agent in (("conv1", "agent1"), ("conv2", "agent2"), ("conv3", None)):
        db.document(f"workspaces/{t['ws']}/conversations/{t[conv]}").set(
            {"status": "open", "assignedAgent": t[agent] if agent else None})
    return t


def _inbound(publisher, ws: str, conv: str, text: str) -> list[dict]:
    """What the webhook publishes for a customer message: one batch, audience workspace+conversation."""
    events = [publisher.envelope(ws, "message:new", {"conversationId": conv, "text": text}),
              publisher.envelope(ws, "conversation:updated", {"conversationId": conv, "reason": "message"})]
    publisher.batch(ws, conv, events)
    return [(e["event"], e["payload"]) for e in events]


def test_under_assigned_an_agent_hears_only_their_conversations_and_cannot_join_others(
        relays, team, clients, publisher):
    a, b = relays
    ws = team["ws"]
    agent1 = clients(a.url, token(team["agent1"], ws))
    agent2 = clients(b.url, token(team["agent2"], ws))
    admin = clients(b.url, token(team["admin"], ws, role="admin"))
    assert agent1.call("conversation:join", {"conversationId": team["conv1"]}) == {"ok": True}
    for other in ("conv2", "conv3"):  # a colleague's, and one in nobody's hands: as if missing
        assert agent1.call("conversation:join", {"conversationId": team[other]}) == {"ok": False, "error": "not_found"}
    assert admin.call("conversation:join", {"conversationId": team["conv3"]}) == {"ok": True}

    sent2 = _inbound(publisher, ws, team["conv2"], "para agent2")
    assert _wait_events(agent2, 2) == sent2  # their own conversation, without joining: in its room since connect
    assert _wait_events(admin, 2) == sent2  # admins hear everything without joining
    sent3 = _inbound(publisher, ws, team["conv3"], "en la cola")
    assert _wait_events(admin, 2) == sent3
    # A single realtime event of a conversation too (here a status update), not only inbound batches.
    publisher.event(ws, "message:delivered", {"conversationId": team["conv2"]}, audience="workspace,conversation",
                    conversationId=team["conv2"])
    assert _wait_events(agent2, 1) == [("message:delivered", {"conversationId": team["conv2"]})]
    agent2.emit("typing:start", {"conversationId": team["conv2"]})
    assert _names(agent1) == []  # of conv2 and conv3: nothing at all

    sent1 = _inbound(publisher, ws, team["conv1"], "para agent1")
    assert _wait_events(agent1, 2) == sent1
    assert [n for n, _ in _names(agent2)] == []
    assert agent1.call("typing:start", {"conversationId": team["conv2"]})["error"] == "not_in_conversation"


def test_reassignment_moves_the_room_across_instances(relays, team, clients, publisher, db):
    a, b = relays
    ws, conv = team["ws"], team["conv1"]
    agent1 = clients(a.url, token(team["agent1"], ws))
    agent2 = clients(b.url, token(team["agent2"], ws))
    assert agent1.call("conversation:join", {"conversationId": conv}) == {"ok": True}

    # The backend transfers conv1 to agent2: the document, then its events (services/assignment.py).
    db.document(f"workspaces/{ws}/conversations/{conv}").update({"assignedAgent": team["agent2"]})
    assigned = {"conversationId": conv, "escalationId": None, "agentId": team["agent2"],
                "previousAgentId": team["agent1"]}
    publisher.event(ws, "conversation:assigned", assigned, audience="workspace,conversation,agent",
                    conversationId=conv, agentId=team["agent2"])
    # The one losing it is told (the event that takes it away), the new holder too.
    assert _wait_events(agent1, 1) == [("conversation:assigned", assigned)]
    assert _wait_events(agent2, 1) == [("conversation:assigned", assigned)]

    sent = _inbound(publisher, ws, conv, "sigue aquí")
    assert _wait_events(agent2, 2) == sent   # in the room now, on the other instance, without joining
    assert _names(agent1) == []
    assert agent1.call("typing:start", {"conversationId": conv})["error"] == "not_in_conversation"
    assert agent1.call("conversation:join", {"conversationId": conv})["error"] == "not_found"

    # Handed back to the bot: nobody's, so agent2 loses it too.
    db.document(f"workspaces/{ws}/conversations/{conv}").update({"assignedAgent": None})
    released = {"conversationId": conv, "reason": "bot", "status": "open", "assignedAgent": None, "botEnabled": True}
    publisher.event(ws, "conversation:updated", released, audience="workspace,conversation,agent",
                    conversationId=conv, agentId=team["agent2"])
    assert _wait_events(agent2, 1) == [("conversation:updated", released)]
    _inbound(publisher, ws, conv, "¿hola?")
    assert _names(agent2) == [] and _names(agent1, 0) == []


def test_the_official_client_is_refused_the_same(relays, team, publisher):
    ws = team["ws"]
    js = JsClient(relays[1].url, auth={"token": token(team["agent1"], ws)}, join=[team["conv1"], team["conv2"]])
    try:
        acks = {}
        for _ in range(2):
            joined = js.wait_for("joined")
            acks[joined["conversationId"]] = joined["ack"]
        assert acks == {team["conv1"]: {"ok": True}, team["conv2"]: {"ok": False, "error": "not_found"}}
        js.wait_for("ready")
        _inbound(publisher, ws, team["conv2"], "no es tuyo")
        sent = _inbound(publisher, ws, team["conv1"], "tuyo")
        got = [js.wait_for("event", timeout=10) for _ in range(2)]
        assert [(e["name"], e["args"][0]) for e in got] == sent  # conv1's, and none of conv2's before them
    finally:
        js.close()


def test_bots_and_services_join_nothing(relay, team, clients):
    for role in ("bot", "service"):
        c = clients(relay.url, token(new_id("u"), team["ws"], role=role))
        assert c.call("conversation:join", {"conversationId": team["conv3"]}) == {"ok": False, "error": "forbidden"}


def test_under_all_every_agent_hears_everything(relays, world, clients, publisher, db):
    """The default visibility: the behaviour before this change, for agents on both instances."""
    a, b = relays
    ws, conv = world["ws_a"], world["conv_a"]
    db.document(f"workspaces/{ws}/conversations/{conv}").update({"assignedAgent": world["a1"]})
    mine = clients(a.url, token(world["a1"], ws))
    colleague = clients(b.url, token(world["a2"], ws))
    sent = _inbound(publisher, ws, conv, "para todos")
    assert _wait_events(mine, 2) == sent and _wait_events(colleague, 2) == sent
    assert colleague.call("conversation:join", {"conversationId": conv}) == {"ok": True}
    mine.call("conversation:join", {"conversationId": conv})
    mine.emit("typing:start", {"conversationId": conv})
    assert colleague.wait_for("typing:start") == {"conversationId": conv, "userId": world["a1"]}


def test_a_visibility_switch_is_picked_up_within_the_ttl(relays, team, clients, publisher, db):
    a, b = relays
    ws = team["ws"]
    db.document(f"workspaces/{ws}").update({"settings.agentVisibility": "all"})  # before anyone connects
    agent1 = clients(a.url, token(team["agent1"], ws))
    assert agent1.call("conversation:join", {"conversationId": team["conv2"]}) == {"ok": True}  # allowed under "all"
    assert agent1.call("conversation:join", {"conversationId": team["conv1"]}) == {"ok": True}
    sent = _inbound(publisher, ws, team["conv3"], "todos")
    assert _wait_events(agent1, 2) == sent

    db.document(f"workspaces/{ws}").update({"settings.agentVisibility": "assigned"})
    deadline = time.monotonic() + VISIBILITY_TTL_SECONDS + 10
    while time.monotonic() < deadline:  # probe until conv2 (joined under "all") goes quiet
        _inbound(publisher, ws, team["conv2"], "probe")
        if not _names(agent1, 1.0):
            break
    else:
        raise AssertionError("agent1 still hears conv2 after the switch to assigned")
    _inbound(publisher, ws, team["conv3"], "cola")
    assert _names(agent1) == []
    sent1 = _inbound(publisher, ws, team["conv1"], "suyo")   # their own joined room survives the switch
    assert _wait_events(agent1, 2) == sent1
    assert agent1.call("typing:start", {"conversationId": team["conv2"]})["error"] == "not_in_conversation"

    db.document(f"workspaces/{ws}").update({"settings.agentVisibility": "all"})
    deadline = time.monotonic() + VISIBILITY_TTL_SECONDS + 10
    heard = []
    while time.monotonic() < deadline and not heard:
        _inbound(publisher, ws, team["conv3"], "de nuevo")
        heard = _names(agent1, 1.0)
    assert heard and heard[0][0] == "message:new"


@pytest.fixture
def slow_relay(emulators):
    """An instance of its own (own subscriptions, no Redis) that re-reads agentVisibility only every
    10 minutes: what it picks up sooner, an event made it pick up."""
    from relay_harness import STACK, RelayProcess

    relay = RelayProcess("relay-slow-ttl", STACK.ports.relay + 1500, {
        "RELAY_VISIBILITY_TTL_SECONDS": "600", "UTALK_REDIS_URL": "",
        "RELAY_SUBSCRIPTION": "realtime-events--relay-slow-ttl",
        "RELAY_INBOUND_SUBSCRIPTION": "message-received--relay-slow-ttl"})
    yield relay
    relay.stop()


def _hears(client, publisher, ws: str, conv: str, seconds: float = 10.0) -> bool:
    """Whether `client` hears a probe of `conv` within `seconds` (probing once a second)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        _inbound(publisher, ws, conv, "probe")
        if [n for n, _ in _names(client, 1.0) if n == "message:new"]:
            return True
    return False


def test_workspace_updated_naming_agent_visibility_switches_at_once(slow_relay, team, clients, publisher, db):
    """An admin's PATCH of agentVisibility announces `workspace:updated`; the relay re-reads that
    workspace's setting then, not at its next TTL."""
    ws = team["ws"]
    agent1 = clients(slow_relay.url, token(team["agent1"], ws))
    assert not _hears(agent1, publisher, ws, team["conv3"], seconds=2)   # "assigned": not theirs

    db.document(f"workspaces/{ws}").update({"settings.agentVisibility": "all"})
    assert not _hears(agent1, publisher, ws, team["conv3"], seconds=2)   # the cached view still holds
    publisher.event(ws, "workspace:updated", {"workspaceId": ws, "paths": ["agentVisibility"], "auditId": "aud_1",
                                              "by": team["admin"]})
    assert _hears(agent1, publisher, ws, team["conv3"])

    db.document(f"workspaces/{ws}").update({"settings.agentVisibility": "assigned"})
    publisher.event(ws, "workspace:updated", {"workspaceId": ws, "paths": ["autoCloseDays"], "auditId": "aud_2",
                                              "by": team["admin"]})
    assert _hears(agent1, publisher, ws, team["conv3"], seconds=3)       # another key: nothing re-read
    publisher.event(ws, "workspace:updated", {"workspaceId": ws, "paths": ["agentVisibility"], "auditId": "aud_3",
                                              "by": team["admin"]})
    deadline = time.monotonic() + 10
    while _hears(agent1, publisher, ws, team["conv3"], seconds=1.5):
        assert time.monotonic() < deadline, "agent1 still hears the queue after the switch back to assigned"
