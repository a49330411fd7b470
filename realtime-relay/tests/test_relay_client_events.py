"""Client events: typing, presence (Firestore + grace period), rate limit and bad input."""
from __future__ import annotations

import json
import time

import websocket

from relay_harness import GRACE_SECONDS, token


def _status(db, ws: str, user: str):
    snap = db.document(f"workspaces/{ws}/agents/{user}").get()
    return snap.to_dict() if snap.exists else None


def _wait_status(db, ws, user, want, timeout=8.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = _status(db, ws, user)
        if doc and doc.get("status") == want:
            return doc
        time.sleep(0.1)
    raise AssertionError(f"status never became {want}: {_status(db, ws, user)}")


def test_typing_is_relayed_to_the_conversation_only(relay, world, clients):
    a1 = clients(relay.url, token(world["a1"], world["ws_a"]))
    a2 = clients(relay.url, token(world["a2"], world["ws_a"]))
    # Not joined yet: refused.
    assert a1.call("typing:start", {"conversationId": world["conv_a"]}) == {
        "ok": False, "error": "not_in_conversation"}
    for c in (a1, a2):
        assert c.call("conversation:join", {"conversationId": world["conv_a"]}) == {"ok": True}
    a1.emit("typing:start", {"conversationId": world["conv_a"]})
    assert a2.wait_for("typing:start") == {"conversationId": world["conv_a"], "userId": world["a1"]}
    a1.emit("typing:stop", {"conversationId": world["conv_a"]})
    assert a2.wait_for("typing:stop") == {"conversationId": world["conv_a"], "userId": world["a1"]}
    assert [n for n, _ in a1.drain(0.3) if n.startswith("typing")] == []  # not echoed to the sender


def test_presence_is_written_and_goes_offline_after_grace(relay, relays, world, clients, db):
    ws, user = world["ws_a"], world["a1"]
    db.document(f"workspaces/{ws}/agents/{user}").set({"maxConversations": 5, "skills": ["es"]})
    watcher = clients(relay.url, token(world["a2"], ws))
    agent = clients(relay.url, token(user, ws))
    assert agent.call("presence:update", {"status": "busy"}) == {"ok": True}
    assert watcher.wait_for("presence:update") == {"userId": user, "status": "busy"}
    doc = _status(db, ws, user)
    assert doc["status"] == "busy" and doc["statusUpdatedAt"] is not None
    assert doc["maxConversations"] == 5 and doc["skills"] == ["es"]  # merge touched only status fields
    assert agent.call("presence:update", {"status": "away"})["error"] == "invalid_payload"

    # Reconnect (on the other instance) within the grace: stays busy.
    agent.close()
    again = clients(relays[1].url, token(user, ws))
    time.sleep(GRACE_SECONDS + 1.0)
    assert _status(db, ws, user)["status"] == "busy"

    # Last socket gone for longer than the grace: offline, and the workspace hears it.
    again.close()
    _wait_status(db, ws, user, "offline")
    assert watcher.wait_for("presence:update") == {"userId": user, "status": "offline"}


def test_rate_limit_per_socket(relay, world, clients):
    a1 = clients(relay.url, token(world["a1"], world["ws_a"]))
    a2 = clients(relay.url, token(world["a2"], world["ws_a"]))
    for c in (a1, a2):
        assert c.call("conversation:join", {"conversationId": world["conv_a"]}) == {"ok": True}
    # Sent back to back (no waiting for acks), so the bucket barely refills meanwhile.
    for _ in range(55):
        a1.emit("typing:start", {"conversationId": world["conv_a"]})
    got_a1 = a1.drain(1.5)
    got_a2 = a2.drain(0)
    relayed = [n for n, _ in got_a2 if n == "typing:start"]
    limited = [args[0] for n, args in got_a1 if n == "error"]
    assert len(relayed) == 49  # 50 per minute, the join included
    assert limited == [{"code": "rate_limited", "event": "typing:start"}] * 6
    # Another socket has its own budget.
    assert a2.call("typing:stop", {"conversationId": world["conv_a"]}) == {"ok": True}


def test_bad_client_input_gets_error_events(relay, world, clients):
    a1 = clients(relay.url, token(world["a1"], world["ws_a"]))
    assert a1.call("typing:start", "not an object")["error"] == "invalid_payload"
    assert a1.wait_for("error") == {"code": "invalid_payload", "event": "typing:start"}
    big = {"conversationId": world["conv_a"], "pad": "x" * (70 * 1024)}
    assert a1.call("conversation:join", big)["error"] == "payload_too_large"
    assert a1.wait_for("error") == {"code": "payload_too_large", "event": "conversation:join"}
    assert a1.call("no:such:event", {})["error"] == "unknown_event"
    assert a1.call("typing:start", {"conversationId": 12})["error"] == "invalid_payload"
    assert a1.call("presence:update", {"status": "online"}, )["ok"] is True
    bot = clients(relay.url, token(world["a2"], world["ws_a"], role="bot"))
    assert bot.call("presence:update", {"status": "online"})["error"] == "forbidden"
    assert a1.sio.connected


def test_malformed_socketio_packets_do_not_crash_the_server(relay, world, clients):
    ws = websocket.create_connection(relay.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
                                     timeout=5)
    try:
        assert ws.recv().startswith("0")  # engine.io open
        ws.send("40" + json.dumps({"token": token(world["a1"], world["ws_a"])}))
        assert ws.recv().startswith("40")  # socket.io connect ok
        for junk in ("42[unterminated", "42{\"not\":\"a list\"}", "42[]", "45-garbage"):
            ws.send(junk)
            assert ws.recv() == '42["error",{"code":"malformed_packet"}]'
        ws.send("\x00")  # not even an engine.io packet: only this connection is dropped
    finally:
        ws.close()
    assert relay.health()["status"] == "ok"
    assert clients(relay.url, token(world["a1"], world["ws_a"])).sio.connected
