"""Pure messaging logic: ids, the status order, event envelopes, Pub/Sub push decoding, inputs."""
import base64
import json
import uuid

import pytest
from pydantic import ValidationError

from utalk import events, pubsub
from utalk.models.events import ConversationUpdated, MessageStatusChanged
from utalk.models.messages import STATUS_RANK, SendMessage
from utalk.services.conversations import conversation_id
from utalk.services.inbound import message_id


def test_conversation_id_is_sorted_and_symmetric():
    assert conversation_id("+5215512345678", "+14155238886") == "conv_+14155238886_+5215512345678"
    assert conversation_id("+14155238886", "+5215512345678") == conversation_id("+5215512345678", "+14155238886")
    assert conversation_id("fb:123", "fb:999") == "conv_fb:123_fb:999"


def test_inbound_message_id_is_deterministic_per_provider_id():
    assert message_id("twilio", "SM1") == message_id("twilio", "SM1") != message_id("twilio", "SM2")
    assert message_id("twilio", "SM1").startswith("msg_")


def test_statuses_only_move_forward_and_failures_are_terminal():
    order = ["queued", "sending", "sent", "delivered", "read"]
    assert [STATUS_RANK[s] for s in order] == sorted(STATUS_RANK[s] for s in order)
    assert STATUS_RANK["failed"] > STATUS_RANK["read"] and STATUS_RANK["undelivered"] == STATUS_RANK["failed"]


def test_event_envelope_checks_the_payload_model():
    payload = ConversationUpdated(conversationId="c1", reason="read", unreadCount=0)
    env = events.envelope("conversation:updated", "ws_1", payload)
    assert env["event"] == "conversation:updated" and env["workspaceId"] == "ws_1"
    assert env["payload"]["unreadCount"] == 0 and env["occurredAt"].endswith("Z") and env["id"].startswith("evt_")
    with pytest.raises(TypeError):
        events.envelope("message:sent", "ws_1", payload)
    ok = MessageStatusChanged(conversationId="c", messageId="m", status="sent", at="2026-01-01T00:00:00Z")
    assert events.envelope("message:sent", "ws_1", ok)["payload"]["at"] == "2026-01-01T00:00:00.000Z"
    assert events.envelope("message:sent", "ws_1", ok, "evt_fixed")["id"] == "evt_fixed"


def test_a_message_carrying_events_has_them_in_order_with_the_audience_in_attributes():
    payload = ConversationUpdated(conversationId="c1", reason="read", unreadCount=0)
    carried = [events.envelope("conversation:updated", "ws_1", payload, f"evt_{n}") for n in range(2)]
    ids = {"workspaceId": "ws_1", "conversationId": "c1", "messageId": "msg_1"}
    msg = events.carrying(ids, carried, {**ids, **events.audience(conversation_id="c1")})
    data = json.loads(msg.data)
    assert data == {**ids, "events": carried} and [e["id"] for e in data["events"]] == ["evt_0", "evt_1"]
    assert dict(msg.attributes) == {**ids, "audience": "workspace,conversation"}  # no agentId: None is left out
    assert events.audience(agent_id="u1", workspace=False) == {"audience": "agent", "conversationId": None,
                                                              "agentId": "u1"}


def test_pubsub_push_decoding():
    raw = {"message": {"data": base64.b64encode(b'{"a":1}').decode(), "attributes": {"workspaceId": "ws"},
                       "messageId": "42"}, "subscription": "s", "deliveryAttempt": 3}
    msg = pubsub.decode(json.dumps(raw).encode())
    assert msg.json() == {"a": 1} and msg.attributes == {"workspaceId": "ws"} and msg.id == "42"
    assert msg.delivery_attempt == 3
    for bad in (b'{"nothing": true}', b"[]", b"not json", b"[" * 10_000 + b"]" * 10_000,
                json.dumps({"message": {"data": "%%%"}}).encode(),
                json.dumps({"message": {"data": "", "attributes": {"a": 1}}}).encode(),
                json.dumps({"message": {"data": 5}}).encode()):
        with pytest.raises(pubsub.BadPush):
            pubsub.decode(bad)


def test_send_message_input_rules():
    mid = str(uuid.uuid4())
    assert SendMessage(conversationId="c", messageId=mid, text="hola").text == "hola"
    for bad in ({"text": "x" * 4097}, {}, {"text": "  "}, {"location": {"latitude": 1, "longitude": 2},
                                                           "mediaId": "m"}):
        with pytest.raises(ValidationError):
            SendMessage(conversationId="c", messageId=mid, **bad)
    with pytest.raises(ValidationError):
        SendMessage(conversationId="c", messageId=str(uuid.uuid1()), text="x")


def test_transform_result_order_matches_the_client():
    """We read a counter from the commit's transform results by rebuilding the client's order."""
    from google.cloud import firestore
    from google.cloud.firestore_v1.types import document, write

    from utalk.repositories.transforms import transform_result

    fields = {"unreadCount": firestore.Increment(1), "messageCount": firestore.Increment(1),
              "lastMessage": {"at": firestore.SERVER_TIMESTAMP, "text": "x"}, "updatedAt": firestore.SERVER_TIMESTAMP}
    # client order: sorted by path -> lastMessage.at, messageCount, unreadCount, updatedAt
    result = write.WriteResult(transform_results=[document.Value(timestamp_value={"seconds": 1}),
                                                  document.Value(integer_value=7), document.Value(integer_value=3),
                                                  document.Value(timestamp_value={"seconds": 1})])
    assert transform_result(result, fields, "messageCount") == 7
    assert transform_result(result, fields, "unreadCount") == 3
