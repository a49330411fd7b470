"""An admin's settings change reaches the admins' sockets live (`workspace:updated` through the relay),
and a switch of agentVisibility changes what an agent's socket hears."""
from __future__ import annotations

import queue

import socketio

from bot_support import customer_says
from messaging_support import agent, wait_for, workspace

PATH = "/api/v1/workspace/settings"


def _socket(port: int, token: str):
    got: queue.Queue = queue.Queue()
    client = socketio.Client(reconnection=False)
    client.on("*", lambda name, *args: got.put((name, args[0] if args else None)))
    client.connect(f"http://127.0.0.1:{port}", auth={"token": token}, transports=["websocket"], wait_timeout=10)
    return client, got


def _next(got: queue.Queue, name: str, timeout: float = 20.0):
    def find():
        try:
            while True:
                event, payload = got.get_nowait()
                if event == name:
                    return payload or True
        except queue.Empty:
            return None
    return wait_for(find, timeout=timeout)


def test_settings_change_reaches_the_admin_socket_and_the_agents_sight(api, relay_port):
    ws = workspace(api, bot=False)
    assert ws.api.patch(PATH, json={"agentVisibility": "assigned"}).status_code == 200
    agent_api, _ = agent(ws, api)
    admin, admin_got = _socket(relay_port, ws.api.token)
    helper, agent_got = _socket(relay_port, agent_api.token)
    try:
        r = ws.api.patch(PATH, json={"agentVisibility": "all", "escalation": {"offerTimeoutSeconds": 90}})
        assert r.status_code == 200, r.text
        event = _next(admin_got, "workspace:updated")
        assert event["workspaceId"] == ws.id and event["by"] == ws.admin["id"]
        assert event["paths"] == ["agentVisibility", "escalation.offerTimeoutSeconds"]
        # Now "all": the agent hears a conversation nobody holds.
        customer_says(api, ws, "hola, ¿hay alguien?")
        assert _next(agent_got, "message:new")
    finally:
        admin.disconnect()
        helper.disconnect()
