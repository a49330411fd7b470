"""An agent going online over Socket.IO gets the escalation that was waiting for one; an agent
whose last socket drops with an offer in hand loses it to a colleague once the presence grace ends.

The whole chain is real: the relay process writes presence to Firestore and enqueues an
assignment run (or an agent release) on the Cloud Tasks emulator, which calls the function via
the gateway.
"""
from __future__ import annotations

import socketio

from bot_support import agent_doc, customer_says, escalations, new_agents, quiet_workspace
from messaging_support import wait_for, workspace


def test_agent_coming_online_over_socketio_takes_the_waiting_escalation(api, relay_port):
    port = relay_port
    ws = workspace(api)
    quiet_workspace(ws.id)
    conv, _ = customer_says(api, ws, "hola")
    [(agent_api, agent_id)] = new_agents(api, ws, 1, status="offline")
    r = ws.api.post(f"/api/v1/conversations/{conv}/escalate", json={"reason": "needs a person"})
    assert r.status_code == 201, r.text
    assert wait_for(lambda: escalations(ws.id))[0]["status"] == "pending"  # nobody online yet

    token = agent_api.token
    client = socketio.Client(reconnection=False)
    try:
        client.connect(f"http://127.0.0.1:{port}", auth={"token": token}, transports=["websocket"],
                       wait_timeout=10)
        client.call("presence:update", {"status": "online"}, timeout=10)
        assert wait_for(lambda: agent_doc(ws.id, agent_id)["status"] == "online")
        esc = wait_for(lambda: next((e for e in escalations(ws.id) if e.get("toAgentId") == agent_id), None),
                       timeout=60)
        assert esc["status"] == "assigned"
        assert agent_doc(ws.id, agent_id)["currentConversations"] == 1
    finally:
        client.disconnect()


def test_an_agent_dropping_off_with_an_offer_in_hand_loses_it_to_a_colleague(api, relay_port):
    ws = workspace(api)
    quiet_workspace(ws.id)
    conv, _ = customer_says(api, ws, "hola")
    [(agent_api, agent_id)] = new_agents(api, ws, 1, status="offline")
    [(_, colleague_id)] = new_agents(api, ws, 1, status="busy")
    client = socketio.Client(reconnection=False)
    client.connect(f"http://127.0.0.1:{relay_port}", auth={"token": agent_api.token}, transports=["websocket"],
                   wait_timeout=10)
    try:
        client.call("presence:update", {"status": "online"}, timeout=10)
        assert ws.api.post(f"/api/v1/conversations/{conv}/escalate", json={}).status_code == 201
        esc = wait_for(lambda: next((e for e in escalations(ws.id) if e.get("toAgentId") == agent_id), None),
                       timeout=60)
        assert esc["status"] == "assigned"
        ws.api.patch(f"/api/v1/users/{colleague_id}", json={"agent": {"status": "online"}})
    finally:
        client.disconnect()           # the laptop lid closes: no presence:update, just gone
    assert wait_for(lambda: agent_doc(ws.id, agent_id)["status"] == "offline", timeout=30)
    esc = wait_for(lambda: next((e for e in escalations(ws.id) if e.get("toAgentId") == colleague_id), None),
                   timeout=60)
    assert esc["status"] == "assigned" and agent_doc(ws.id, agent_id)["currentConversations"] == 0
