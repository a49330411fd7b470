"""50 simultaneous escalations against 3 agents of capacity 10: nobody over capacity, nothing lost;
then the waiting queue is served oldest first when an agent comes online and when a slot frees."""
from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from bot_support import agent_doc, conversation, customer_says, escalations, new_agents, quiet_workspace
from helpers import call_internal
from messaging_support import wait_for, workspace


def _settled(ws_id: str, assigned: int) -> list[dict]:
    escs = escalations(ws_id)
    return escs if sum(e["status"] == "assigned" for e in escs) == assigned else []


def test_fifty_simultaneous_escalations_never_exceed_capacity(api):
    ws = workspace(api)
    quiet_workspace(ws.id)
    agents = new_agents(api, ws, 3, capacity=10)
    with ThreadPoolExecutor(10) as pool:
        convs = [c for c, _ in pool.map(lambda i: customer_says(api, ws, f"hola {i}"), range(50))]
    with ThreadPoolExecutor(50) as pool:
        codes = list(pool.map(lambda c: ws.api.post(f"/api/v1/conversations/{c}/escalate", json={}).status_code,
                              convs))
        # Also run the assignment handler three times at once, alongside the queue's own runs: the
        # workspace's lease keeps them apart (a busy one leaves a follow-up), and each assignment's
        # transaction re-checks capacity anyway.
        direct = list(pool.map(lambda _: call_internal(api, "assignment_run", {"workspaceId": ws.id},
                                                                timeout=120).status_code,
                               range(3)))
    # An overlapping run may give up on contention and ask Cloud Tasks to retry it (503): never a 500.
    assert codes == [201] * 50, Counter(codes)
    assert set(direct) <= {200, 503}, Counter(direct)
    escs = wait_for(lambda: _settled(ws.id, 30), timeout=120)
    time.sleep(1)   # let any straggler run; nothing may change
    escs = escalations(ws.id)
    assert len(escs) == 50 and {e["conversationId"] for e in escs} == set(convs)
    by_agent = Counter(e["toAgentId"] for e in escs if e["status"] == "assigned")
    assert sum(by_agent.values()) == 30 and sum(e["status"] == "pending" for e in escs) == 20
    for _, agent_id in agents:
        doc = agent_doc(ws.id, agent_id)
        assert doc["currentConversations"] == by_agent[agent_id] == 10, (doc, by_agent)
    for e in escs:
        assert conversation(ws.id, e["conversationId"])["assignedAgent"] == e["toAgentId"]

    # The waiting queue, oldest first: a fourth agent comes online with 5 slots.
    waiting = sorted((e for e in escs if e["status"] == "pending"), key=lambda e: e["createdAt"])
    (late_api, late_id), = new_agents(api, ws, 1, status="offline", capacity=5)
    r = late_api.patch("/api/v1/agents/me/status", json={"status": "online"})
    assert r.status_code == 200 and r.json()["status"] == "online", r.text
    wait_for(lambda: _settled(ws.id, 35), timeout=60)
    taken = {e["id"] for e in escalations(ws.id) if e["toAgentId"] == late_id}
    assert taken == {e["id"] for e in waiting[:5]}

    # A slot frees (return to bot): the next oldest waiting escalation takes it.
    first_api, first_id = agents[0]
    mine = next(e for e in escalations(ws.id) if e["toAgentId"] == first_id)
    assert first_api.post(f"/api/v1/conversations/{mine['conversationId']}/return-to-bot").status_code == 200
    nxt = waiting[5]
    wait_for(lambda: next((e for e in escalations(ws.id) if e["id"] == nxt["id"] and e["status"] == "assigned"),
                          None), timeout=30)
    assert agent_doc(ws.id, first_id)["currentConversations"] == 10
    assert sum(e["status"] == "pending" for e in escalations(ws.id)) == 14
