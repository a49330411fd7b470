"""Pub/Sub events reach exactly the rooms their audience names, and never another workspace."""
from __future__ import annotations

import json

from relay_harness import JsClient, token

QUIET = 1.0  # seconds to listen for something that must not arrive


def _names(received) -> list[str]:
    return [name for name, _ in received]


def test_audiences_and_workspace_isolation(relay, world, clients, publisher):
    a1 = clients(relay.url, token(world["a1"], world["ws_a"]))
    a2 = clients(relay.url, token(world["a2"], world["ws_a"]))
    b1 = clients(relay.url, token(world["b1"], world["ws_b"]))
    assert a1.call("conversation:join", {"conversationId": world["conv_a"]}) == {"ok": True}

    publisher.event(world["ws_a"], "conversation:updated", {"n": 1}, audience="workspace")
    assert a1.wait_for("conversation:updated") == {"n": 1}
    assert a2.wait_for("conversation:updated") == {"n": 1}

    publisher.event(world["ws_a"], "message:new", {"n": 2}, audience="conversation",
                    conversationId=world["conv_a"])
    assert a1.wait_for("message:new") == {"n": 2}

    publisher.event(world["ws_a"], "assignment:new", {"n": 3}, audience="agent", agentId=world["a2"])
    assert a2.wait_for("assignment:new") == {"n": 3}

    # A socket in several named rooms gets one copy.
    publisher.event(world["ws_a"], "both", {"n": 4}, audience="workspace,conversation",
                    conversationId=world["conv_a"])
    assert a1.wait_for("both") == {"n": 4}

    assert "both" not in _names(a1.drain(QUIET))
    assert {"message:new"} & set(_names(a2.drain(0))) == set()
    assert _names(b1.drain(0)) == []  # workspace B heard nothing of workspace A


def test_conversation_join_is_checked_against_firestore(relay, world, clients, publisher):
    a1 = clients(relay.url, token(world["a1"], world["ws_a"]))
    # Workspace B's conversation does not exist under workspace A, whatever the client claims.
    assert a1.call("conversation:join", {"conversationId": world["conv_b"]}) == {"ok": False, "error": "not_found"}
    assert a1.call("conversation:join", {"conversationId": "conv_missing"}) == {"ok": False, "error": "not_found"}
    assert a1.call("conversation:join", {"conversationId": "ws:x"})["error"] == "invalid_payload"
    publisher.event(world["ws_b"], "message:new", {"leak": True}, audience="conversation",
                    conversationId=world["conv_b"])
    assert a1.call("conversation:join", {"conversationId": world["conv_a"]}) == {"ok": True}
    assert a1.call("conversation:leave", {"conversationId": world["conv_a"]}) == {"ok": True}
    publisher.event(world["ws_a"], "message:new", {"after": "leave"}, audience="conversation",
                    conversationId=world["conv_a"])
    assert "message:new" not in _names(a1.drain(QUIET))


def test_malformed_messages_are_dropped_and_the_feed_goes_on(relay, world, clients, publisher):
    a1 = clients(relay.url, token(world["a1"], world["ws_a"]))
    ws = world["ws_a"]
    publisher.raw(b"not json", event="x", workspaceId=ws, audience="workspace")
    publisher.raw(json.dumps({"id": "1", "event": "x", "workspaceId": ws}).encode(), audience="workspace")
    publisher.raw(json.dumps({"id": "2", "event": "x", "workspaceId": ws, "payload": {}}).encode(),
                  audience="nobody")
    # Attributes naming another workspace than the data: never routed.
    publisher.raw(json.dumps({"id": "3", "event": "x", "workspaceId": world["ws_b"], "payload": {}}).encode(),
                  workspaceId=ws, audience="workspace")
    publisher.raw(json.dumps({"id": "4", "event": "x", "workspaceId": ws, "payload": {}}).encode(),
                  audience="conversation")  # no conversationId
    publisher.event(ws, "after:garbage", {"ok": True})
    assert a1.wait_for("after:garbage") == {"ok": True}
    assert "x" not in _names(a1.drain(0.3))
    assert relay.health()["status"] == "ok"


def test_official_js_client_receives_events(relay, world, publisher):
    js = JsClient(relay.url, auth={"token": token(world["a1"], world["ws_a"])}, join=[world["conv_a"]])
    try:
        joined = js.wait_for("joined")
        assert joined["ack"] == {"ok": True}
        js.wait_for("ready")
        publisher.event(world["ws_a"], "message:new", {"text": "hi"}, audience="conversation",
                        conversationId=world["conv_a"])
        got = js.wait_for("event", "message:new")
        assert got["args"] == [{"text": "hi"}]
    finally:
        js.close()
