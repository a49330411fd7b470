"""The message-to-rooms mapping on its own (no processes): rooms never leave the workspace."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relay import routing  # noqa: E402


def _msg(**over):
    body = {"id": "e1", "event": "message:new", "workspaceId": "ws_1", "occurredAt": "", "payload": {"a": 1}}
    body.update(over)
    return json.dumps(body).encode()


def test_rooms_for_each_audience():
    route = routing.parse(_msg(), {"audience": "workspace,conversation,agent", "conversationId": "conv_+1_+2",
                                   "agentId": "u1", "workspaceId": "ws_1", "event": "message:new"})
    assert route.rooms == ["ws:ws_1", "ws:ws_1:conv:conv_+1_+2", "ws:ws_1:agent:u1"]
    assert route.payload == {"a": 1} and route.event == "message:new"


@pytest.mark.parametrize("data,attrs", [
    (_msg(workspaceId="a:conv:x"), {"audience": "workspace"}),        # id that could forge a room
    (_msg(), {"audience": "conversation", "conversationId": "c:1"}),
    (_msg(event="connect"), {"audience": "workspace"}),               # reserved Socket.IO event
    (_msg(), {"audience": "workspace", "workspaceId": "ws_2"}),       # attributes disagree
    (_msg(), {"audience": ""}),
    (b"[1]", {"audience": "workspace"}),
])
def test_malformed(data, attrs):
    with pytest.raises(routing.Malformed):
        routing.parse(data, attrs)
