"""The message-to-rooms mapping on its own (no processes): rooms never leave the workspace."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relay import routing  # noqa: E402


def _event(**over) -> dict:
    body = {"id": "e1", "event": "message:new", "workspaceId": "ws_1", "occurredAt": "", "payload": {"a": 1}}
    body.update(over)
    return body


def _msg(**over):
    return json.dumps(_event(**over)).encode()


def _batch(events, **over):
    body = {"workspaceId": "ws_1", "conversationId": "conv_1", "messageId": "msg_1", "events": events}
    body.update(over)
    return json.dumps(body).encode()


BATCH_ATTRS = {"workspaceId": "ws_1", "conversationId": "conv_1", "messageId": "msg_1",
               "audience": "workspace,conversation"}


def test_rooms_for_each_audience():
    [route] = routing.routes(_msg(), {"audience": "workspace,conversation,agent", "conversationId": "conv_+1_+2",
                                      "agentId": "u1", "workspaceId": "ws_1", "event": "message:new"})
    assert route.rooms == ["ws:ws_1", "ws:ws_1:conv:conv_+1_+2", "ws:ws_1:agent:u1"]
    assert route.payload == {"a": 1} and route.event == "message:new" and route.event_id == "e1"


@pytest.mark.parametrize("data,attrs", [
    (_msg(workspaceId="a:conv:x"), {"audience": "workspace"}),        # id that could forge a room
    (_msg(), {"audience": "conversation", "conversationId": "c:1"}),
    (_msg(event="connect"), {"audience": "workspace"}),               # reserved Socket.IO event
    (_msg(), {"audience": "workspace", "workspaceId": "ws_2"}),       # attributes disagree
    (_msg(), {"audience": "workspace", "event": "other"}),
    (_msg(), {"audience": ""}),
    (b"[1]", {"audience": "workspace"}),
])
def test_malformed(data, attrs):
    with pytest.raises(routing.Malformed):
        routing.routes(data, attrs)


# -- the batch form (a message of another topic carrying events) ---------------------------------
def test_batch_routes_every_event_in_order_to_the_message_audience():
    events = [_event(id="e1", event="conversation:new", payload={"n": 1}),
              _event(id="e2", event="message:new", payload={"n": 2}),
              _event(id="e3", event="conversation:updated", payload=None)]
    got = routing.routes(_batch(events), BATCH_ATTRS)
    assert [(r.event_id, r.event, r.payload) for r in got] == [
        ("e1", "conversation:new", {"n": 1}), ("e2", "message:new", {"n": 2}), ("e3", "conversation:updated", None)]
    assert all(r.rooms == ["ws:ws_1", "ws:ws_1:conv:conv_1"] and r.workspace_id == "ws_1" for r in got)


def test_empty_batch_has_nothing_to_emit():
    assert routing.routes(_batch([]), BATCH_ATTRS) == []


def test_a_carrier_topic_message_without_events_has_nothing_to_emit():
    bare = json.dumps({"workspaceId": "ws_1", "conversationId": "conv_1", "messageId": "m1"}).encode()
    assert routing.routes(bare, BATCH_ATTRS, carried_only=True) == []
    with pytest.raises(routing.Malformed):  # on realtime-events the same message is malformed
        routing.routes(bare, BATCH_ATTRS)
    assert len(routing.routes(_batch([_event(id="e1")]), BATCH_ATTRS, carried_only=True)) == 1


@pytest.mark.parametrize("data,attrs", [
    (_batch([_event(), _event(id="e2", workspaceId="ws_2")]), BATCH_ATTRS),   # an event of another workspace
    (_batch([_event(event="disconnect")]), BATCH_ATTRS),                      # reserved Socket.IO event
    (_batch([{k: v for k, v in _event().items() if k != "id"}]), BATCH_ATTRS),
    (_batch([_event(id="")]), BATCH_ATTRS),
    (_batch([{k: v for k, v in _event().items() if k != "payload"}]), BATCH_ATTRS),
    (_batch([_event(id=f"e{i}") for i in range(routing.MAX_BATCH_EVENTS + 1)]), BATCH_ATTRS),
    (_batch({"e1": _event()}), BATCH_ATTRS),                                   # events not a list
    (_batch(None), BATCH_ATTRS),
    (_batch(["e1"]), BATCH_ATTRS),
    (_batch([_event()], workspaceId="ws_2"), BATCH_ATTRS),                     # outer workspace disagrees
    (_batch([_event()]), {**BATCH_ATTRS, "workspaceId": "ws_2"}),             # attribute disagrees
    (_batch([_event()]), {k: v for k, v in BATCH_ATTRS.items() if k != "workspaceId"}),
    (_batch([_event()]), {**BATCH_ATTRS, "event": "message:new"}),            # no one event names a batch
    (_batch([_event()]), {**BATCH_ATTRS, "audience": "everyone"}),
    (_batch([_event()]), {**BATCH_ATTRS, "conversationId": "c:1"}),
    (_batch([_event(workspaceId="a:conv:x")], workspaceId="a:conv:x"), {**BATCH_ATTRS, "workspaceId": "a:conv:x"}),
])
def test_malformed_batch(data, attrs):
    with pytest.raises(routing.Malformed):
        routing.routes(data, attrs)


def test_a_batch_of_the_maximum_size_is_fine():
    events = [_event(id=f"e{i}") for i in range(routing.MAX_BATCH_EVENTS)]
    assert len(routing.routes(_batch(events), BATCH_ATTRS)) == routing.MAX_BATCH_EVENTS


@pytest.mark.parametrize("conv", ["conv_fb:6000000000000001_fb:100000000000001",
                                  "conv_web:v0123456789abcdef0123456789abcdef_web:wk_" + "a" * 32])
def test_messenger_and_web_chat_conversation_ids_route_to_their_room(conv):
    """Their ids hold ':' (customer and business addresses are prefixed by channel)."""
    [route] = routing.routes(_msg(), {"workspaceId": "ws_1", "audience": "conversation", "conversationId": conv})
    assert route.rooms == [f"ws:ws_1:conv:{conv}"]


@pytest.mark.parametrize("conv", ["ws:x", "a:conv:b", "conv_:" + "x" * 200])
def test_other_ids_with_colons_are_still_refused(conv):
    with pytest.raises(routing.Malformed):
        routing.routes(_msg(), {"workspaceId": "ws_1", "audience": "conversation", "conversationId": conv})
