"""The relay speaks docs/asyncapi.json: a screen's whole session (connect, join, typing, presence,
token refresh, an unknown event, a refused connect) and the events an inbound message and an
escalation cause. The check itself is the autouse `realtime_contract` fixture (conftest.py), which
every e2e test runs under; here it is also shown to fail on a payload the document does not allow."""
from __future__ import annotations

import socketio

from asyncapi_support import violations
from helpers import login
from messaging_support import INBOUND, conv_id, inbound_form, post_signed, wait_for, workspace

CUSTOMER = "+5215588887777"


def test_a_screen_session_and_the_events_it_hears_follow_the_contract(api, relay_port, realtime_contract):
    ws = workspace(api, bot=False)
    url = f"http://127.0.0.1:{relay_port}"
    refused = socketio.Client(reconnection=False)
    try:
        refused.connect(url, auth={"token": "not-a-jwt"}, transports=["websocket"], wait_timeout=10)
    except socketio.exceptions.ConnectionError:
        pass
    client = socketio.Client(reconnection=False)
    try:
        client.connect(url, auth={"token": ws.api.token}, transports=["websocket"], wait_timeout=10)
        assert post_signed(api, INBOUND, inbound_form(ws.number, CUSTOMER, "hola")).status_code == 200
        cid = conv_id(CUSTOMER, ws.number)
        wait_for(lambda: any(e == "conversation:updated" for e, _ in realtime_contract), timeout=30)
        assert client.call("conversation:join", {"conversationId": cid}, timeout=10) == {"ok": True}
        assert client.call("conversation:join", {"conversationId": "conv_nobody"}, timeout=10)["ok"] is False
        assert client.call("typing:start", {"conversationId": cid}, timeout=10) == {"ok": True}
        assert client.call("typing:stop", {"conversationId": "elsewhere"}, timeout=10)["error"] == "not_in_conversation"
        assert client.call("presence:update", {"status": "busy"}, timeout=10) == {"ok": True}
        fresh = login(api, ws.admin["email"])["token"]
        assert client.call("auth:refresh", {"token": fresh}, timeout=10)["ok"] is True
        assert client.call("conversation:leave", {"conversationId": cid}, timeout=10) == {"ok": True}
        client.emit("no:such:event", {})
        r = ws.api.post(f"/api/v1/conversations/{cid}/escalate", json={"reason": "contract"})
        assert r.status_code == 201, r.text
        wait_for(lambda: any(e == "escalation:started" for e, _ in realtime_contract), timeout=30)
        wait_for(lambda: any(e == "error" for e, _ in realtime_contract), timeout=10)
        heard = {e for e, _ in realtime_contract}
        assert {"connect_error", "conversation:new", "message:new", "conversation:updated", "presence:update",
                "escalation:started", "error"} <= heard, heard
    finally:
        client.disconnect()


def test_the_check_refuses_what_the_document_does_not_allow():
    assert violations([("message:new", ({"conversationId": "c1"},))]) == ["message:new: 'message' is a required property at []"]
    assert violations([("presence:update", ({"userId": "u1", "status": "asleep"},))])
    assert violations([("made:up", ({},))]) == ["made:up: not in docs/asyncapi.json"]
    assert violations([("connect_error", ({"message": "token_invalid", "data": {"code": "token_invalid"}},))]) == []
