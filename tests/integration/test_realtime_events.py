"""Realtime events are published in the documented format, with audiences (on `realtime-events`,
or carried by an inbound message's `message-received`)."""
from __future__ import annotations

import uuid

import pytest

from messaging_support import INBOUND, conv_id, inbound_form, post_signed, wait_for, workspace
from realtime_support import RealtimeReader

CUSTOMER = "+5215512345678"


@pytest.fixture
def realtime(stack):
    """A reader of one workspace's events as (attributes, data) pairs."""
    reader = RealtimeReader()
    yield lambda workspace_id: [(e["attributes"], {k: v for k, v in e.items() if k != "attributes"})
                                for e in reader.pull() if e["workspaceId"] == workspace_id]
    reader.close()


def test_inbound_send_and_status_publish_their_events(api, realtime):
    ws = workspace(api, bot=False)
    post_signed(api, INBOUND, inbound_form(ws.number, CUSTOMER, "hola"))
    cid = conv_id(CUSTOMER, ws.number)
    r = ws.api.post("/api/v1/messages", json={"conversationId": cid, "messageId": str(uuid.uuid4()), "text": "hey"})
    assert r.status_code == 201
    wanted = {"conversation:new", "message:new", "message:sent", "message:delivered", "message:read"}
    events = wait_for(lambda: (got := realtime(ws.id)) and wanted <= {a["event"] for a, _ in got} and got)
    for attrs, data in events:
        assert data["event"] == attrs["event"] and data["workspaceId"] == ws.id and data["id"].startswith("evt_")
        assert attrs["conversationId"] == cid and set(attrs["audience"].split(",")) >= {"workspace", "conversation"}
    new = [d["payload"] for a, d in events if a["event"] == "message:new"]
    assert {p["message"]["direction"] for p in new} == {"inbound", "outbound"}
    assert [d["payload"]["customer"]["address"] for a, d in events if a["event"] == "conversation:new"] == [CUSTOMER]
    read = next(d["payload"] for a, d in events if a["event"] == "message:read")
    assert read["messageId"] == r.json()["id"] and read["providerId"].startswith("SM")


def test_status_change_and_mark_read_publish_conversation_updated(api, realtime):
    ws = workspace(api, bot=False)
    post_signed(api, INBOUND, inbound_form(ws.number, CUSTOMER, "hola"))
    cid = conv_id(CUSTOMER, ws.number)
    ws.api.post(f"/api/v1/conversations/{cid}/status", json={"status": "pending"})
    ws.api.post(f"/api/v1/conversations/{cid}/read")
    got = wait_for(lambda: (e := [d["payload"] for a, d in realtime(ws.id) if a["event"] == "conversation:updated"])
                   and {p["reason"] for p in e} >= {"status", "read"} and e)
    assert {"reason": "status", "status": "pending"}.items() <= next(p for p in got if p["reason"] == "status").items()
    assert next(p for p in got if p["reason"] == "read")["unreadCount"] == 0


def test_an_inbound_message_announces_once_and_its_retry_repeats_the_same_event_ids(api, realtime):
    ws = workspace(api, bot=False)
    form = inbound_form(ws.number, CUSTOMER, "hola")
    for _ in range(2):  # Twilio retrying a delivery it thinks failed
        assert post_signed(api, INBOUND, form).status_code == 200
    got = wait_for(lambda: len([d for a, d in realtime(ws.id) if a["event"] == "message:new"]) == 2
                   and realtime(ws.id))
    named = {}
    for attrs, data in got:
        named.setdefault(data["event"], []).append(data["id"])
        assert attrs["messageId"].startswith("msg_")  # carried by the message-received of that message
    # The relay emits an event id once, so screens see the message and the unread bump once.
    assert len(named["message:new"]) == 2 and len(set(named["message:new"])) == 1
    assert len(set(named["conversation:updated"])) == 1 and len(named["conversation:new"]) == 1
