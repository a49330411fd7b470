"""Realtime events reach the `realtime-events` topic in the documented format, with audiences."""
from __future__ import annotations

import json
import uuid

import pytest

from messaging_support import INBOUND, conv_id, inbound_form, post_signed, wait_for, workspace

CUSTOMER = "+5215512345678"


@pytest.fixture
def realtime(stack):
    """A pull subscription on the realtime topic for this test; yields a reader of one workspace's events."""
    from google.cloud import pubsub_v1

    from utalk.config import settings

    project = settings().project_id
    sub = pubsub_v1.SubscriberClient()
    name = sub.subscription_path(project, f"test-realtime-{uuid.uuid4().hex[:8]}")
    sub.create_subscription(name=name, topic=f"projects/{project}/topics/realtime-events")
    seen: list = []

    def read(workspace_id: str) -> list[tuple[dict, dict]]:
        resp = sub.pull(subscription=name, max_messages=100, timeout=5)
        if resp.received_messages:
            sub.acknowledge(subscription=name, ack_ids=[m.ack_id for m in resp.received_messages])
        seen.extend((dict(m.message.attributes), json.loads(m.message.data)) for m in resp.received_messages)
        return [(a, d) for a, d in seen if a.get("workspaceId") == workspace_id]

    yield read
    sub.delete_subscription(subscription=name)
    sub.close()


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
