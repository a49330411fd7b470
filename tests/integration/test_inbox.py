"""The agent's inbox over REST, for a screen that reloads: the conversation's current escalation in
its view and in the events, the escalations list (an agent's offers, the admins' queue), the agents'
roster, and isolation between workspaces."""
from __future__ import annotations

import pytest

from bot_support import agent_doc, customer_says, escalations, new_agents, quiet_workspace
from helpers import every_page
from messaging_support import conversation_doc, db, wait_for, workspace
from realtime_support import RealtimeReader


@pytest.fixture
def events_of(stack):
    reader = RealtimeReader()
    yield lambda ws_id, name: [e["payload"] for e in reader.pull() if e["workspaceId"] == ws_id and e["event"] == name]
    reader.close()


def _escalate(ws, conv) -> str:
    r = ws.api.post(f"/api/v1/conversations/{conv}/escalate", json={"reason": "needs a person"})
    assert r.status_code == 201, r.text
    return r.json()["escalation"]["id"]


def _offered(ws, esc_id: str, agent_id: str) -> dict:
    return wait_for(lambda: next((e for e in escalations(ws.id) if e["id"] == esc_id and e["status"] == "assigned"
                                  and e["toAgentId"] == agent_id), None))


def _stored_summary_matches(ws_id: str, conv: str) -> None:
    """The conversation's `escalation` says what the escalation record says."""
    stored = conversation_doc(ws_id, conv).get().to_dict()
    summary = stored.get("escalation")
    if not stored.get("escalationId"):
        assert summary is None
        return
    esc = db().collection("workspaces").document(ws_id).collection("escalations").document(
        stored["escalationId"]).get().to_dict()
    assert (summary["id"], summary["status"], summary["agentId"]) == (esc["id"], esc["status"], esc["toAgentId"])


def test_the_conversation_view_and_its_events_carry_the_current_escalation(api, events_of):
    ws = workspace(api)
    quiet_workspace(ws.id)
    conv, _ = customer_says(api, ws, "hola")
    [(agent_api, agent_id)] = new_agents(api, ws, 1)
    esc_id = _escalate(ws, conv)
    _offered(ws, esc_id, agent_id)
    # The agent missed every event: the reloaded screen has what accepting needs.
    view = agent_api.get(f"/api/v1/conversations/{conv}").json()
    assert view["escalationId"] == esc_id
    summary = view["escalation"]
    assert (summary["id"], summary["status"], summary["reason"], summary["agentId"]) == \
        (esc_id, "assigned", "manual", agent_id)
    assert summary["createdAt"].endswith("Z") and summary["since"] >= summary["createdAt"]
    [item] = [c for c in agent_api.get("/api/v1/conversations").json()["items"] if c["id"] == conv]
    assert item["escalation"] == summary
    _stored_summary_matches(ws.id, conv)
    assert agent_api.post(f"/api/v1/escalations/{view['escalation']['id']}/accept").status_code == 200
    accepted = agent_api.get(f"/api/v1/conversations/{conv}").json()["escalation"]
    assert accepted["status"] == "accepted" and accepted["agentId"] == agent_id
    assert accepted["createdAt"] == summary["createdAt"] and accepted["since"] >= summary["since"]
    _stored_summary_matches(ws.id, conv)
    # The events say it too.
    updates = wait_for(lambda: [p for p in events_of(ws.id, "conversation:updated") if p.get("escalationId")])
    started = next(p for p in updates if p["reason"] == "bot")
    assert started["escalation"] == {"id": esc_id, "status": "pending", "reason": "manual", "agentId": None,
                                     "createdAt": None, "since": None}
    [assigned] = wait_for(lambda: events_of(ws.id, "conversation:assigned"))
    assert assigned["escalation"]["status"] == "assigned" and assigned["escalation"]["agentId"] == agent_id
    [begun] = events_of(ws.id, "escalation:started") or wait_for(lambda: events_of(ws.id, "escalation:started"))
    assert begun["escalation"]["id"] == esc_id
    # Handed back to the bot: no escalation any more.
    assert agent_api.post(f"/api/v1/conversations/{conv}/return-to-bot").status_code == 200
    view = agent_api.get(f"/api/v1/conversations/{conv}").json()
    assert view["escalationId"] is None and view["escalation"] is None
    _stored_summary_matches(ws.id, conv)


def test_a_rejected_offer_and_a_manual_assignment_keep_the_summary_true(api):
    ws = workspace(api)
    quiet_workspace(ws.id)
    conv, _ = customer_says(api, ws, "hola")
    [(a1, id1)] = new_agents(api, ws, 1)
    esc_id = _escalate(ws, conv)
    _offered(ws, esc_id, id1)
    assert a1.post(f"/api/v1/escalations/{esc_id}/reject", json={"reason": "busy"}).status_code == 200
    view = ws.api.get(f"/api/v1/conversations/{conv}").json()
    assert view["escalation"]["status"] == "pending" and view["escalation"]["agentId"] is None
    _stored_summary_matches(ws.id, conv)
    [(_, id2)] = new_agents(api, ws, 1, status="offline")
    assert ws.api.post(f"/api/v1/conversations/{conv}/assign", json={"agentId": id2}).status_code == 200
    view = ws.api.get(f"/api/v1/conversations/{conv}").json()
    assert (view["escalation"]["id"], view["escalation"]["status"], view["escalation"]["agentId"]) == \
        (esc_id, "assigned", id2)
    _stored_summary_matches(ws.id, conv)
    assert ws.api.post(f"/api/v1/conversations/{conv}/status", json={"status": "closed"}).status_code == 200
    assert ws.api.get(f"/api/v1/conversations/{conv}").json()["escalation"] is None
    _stored_summary_matches(ws.id, conv)


def _ids(client, **params) -> list[str]:
    r = client.get("/api/v1/escalations", params=params)
    assert r.status_code == 200, r.text
    return [e["id"] for e in r.json()["items"]]


def test_agents_see_their_offers_and_what_they_hold_admins_the_queue_and_everything(api):
    ws = workspace(api)
    quiet_workspace(ws.id)
    convs = [customer_says(api, ws, f"hola {i}")[0] for i in range(3)]
    [(a1, id1)] = new_agents(api, ws, 1, capacity=1)
    [(a2, id2)] = new_agents(api, ws, 1, status="offline")
    first = _escalate(ws, convs[0])
    _offered(ws, first, id1)
    queued = [_escalate(ws, c) for c in convs[1:]]            # a1 is full, a2 offline: they wait
    wait_for(lambda: sum(e["status"] == "pending" for e in escalations(ws.id)) == 2)

    assert _ids(a1) == [first] and _ids(a2) == []
    assert _ids(a1, status="pending") == [] and _ids(a1, agentId=id2) == [] and _ids(a1, status="completed") == []
    [offer] = a1.get("/api/v1/escalations").json()["items"]
    assert offer["status"] == "assigned" and offer["toAgentId"] == id1 and offer["conversation"]["id"] == convs[0]
    assert offer["conversation"]["escalation"]["id"] == first

    assert _ids(ws.api, status="pending") == queued            # the queue, oldest first
    assert _ids(ws.api) == [first, *queued]
    assert _ids(ws.api, agentId=id1) == [first] and _ids(ws.api, reason="manual") == [first, *queued]
    assert _ids(ws.api, reason="keyword") == [] and _ids(ws.api, since="2999-01-01T00:00:00Z") == []
    assert _ids(ws.api, since="2000-01-01T00:00:00") == [first, *queued]
    assert [e["id"] for e in every_page(ws.api, "/api/v1/escalations", limit=1)] == [first, *queued]

    assert a1.post(f"/api/v1/escalations/{first}/accept").status_code == 200
    [held] = a1.get("/api/v1/escalations").json()["items"]
    assert held["id"] == first and held["status"] == "accepted"
    assert _ids(a1, status="accepted") == [first] and _ids(a1, status="assigned") == []
    for bad in ({"status": "lost"}, {"reason": "boredom"}, {"since": "yesterday"}, {"limit": 0}, {"limit": 101},
                {"agentId": ""}, {"what": 1}):
        r = ws.api.get("/api/v1/escalations", params=bad)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_query", (bad, r.text)


def test_under_assigned_visibility_an_agents_offer_still_shows_its_conversation(api):
    ws = workspace(api)
    quiet_workspace(ws.id)
    db().collection("workspaces").document(ws.id).update({"settings.agentVisibility": "assigned"})
    conv, _ = customer_says(api, ws, "hola")
    [(a1, id1)] = new_agents(api, ws, 1)
    esc_id = _escalate(ws, conv)
    _offered(ws, esc_id, id1)
    [offer] = a1.get("/api/v1/escalations").json()["items"]
    assert offer["conversation"]["id"] == conv
    assert a1.get(f"/api/v1/conversations/{conv}").json()["escalation"]["agentId"] == id1


def test_the_roster_shows_presence_load_capacity_and_skills(api):
    ws = workspace(api)
    quiet_workspace(ws.id)
    [(a1, id1)] = new_agents(api, ws, 1, capacity=2, skills=("Billing", "vip"))
    [(a2, id2)] = new_agents(api, ws, 1, status="offline", capacity=5)
    conv, _ = customer_says(api, ws, "hola")
    _offered(ws, _escalate(ws, conv), id1)
    for client in (ws.api, a2):   # admins and agents
        r = client.get("/api/v1/agents")
        assert r.status_code == 200, r.text
        by_id = {a["id"]: a for a in r.json()["items"]}
        assert by_id[id1] | {"statusChangedAt": None, "lastAssignedAt": None} == {
            "id": id1, "name": "Agente", "role": "agent", "userStatus": "active", "status": "online", "load": 1,
            "capacity": 2, "available": True, "skills": ["billing", "vip"], "statusChangedAt": None,
            "lastAssignedAt": None}
        assert by_id[id2]["status"] == "offline" and by_id[id2]["load"] == 0 and by_id[id2]["capacity"] == 5
        assert by_id[id2]["available"] is False
        assert by_id[ws.admin["id"]]["role"] == "admin"     # admins have an agent profile too
    assert [a["id"] for a in ws.api.get("/api/v1/agents", params={"status": "online"}).json()["items"]] == [id1]
    assert ws.api.get("/api/v1/agents", params={"status": "away"}).status_code == 400
    # A full agent is not available; a deactivated one stays listed, not available.
    assert agent_doc(ws.id, id1)["currentConversations"] == 1
    assert ws.api.post(f"/api/v1/users/{id1}/deactivate").status_code == 200
    [gone] = [a for a in ws.api.get("/api/v1/agents").json()["items"] if a["id"] == id1]
    assert gone["userStatus"] == "inactive" and gone["available"] is False
    seen = [a["id"] for a in every_page(ws.api, "/api/v1/agents", limit=1)]
    assert sorted(seen) == sorted([id1, id2, ws.admin["id"]]) and len(seen) == 3


def test_another_workspace_sees_none_of_it(api):
    ws, other = workspace(api), workspace(api)
    quiet_workspace(ws.id)
    conv, _ = customer_says(api, ws, "hola")
    [(_, id1)] = new_agents(api, ws, 1)
    esc_id = _escalate(ws, conv)
    _offered(ws, esc_id, id1)
    assert other.api.get("/api/v1/escalations").json()["items"] == []
    assert other.api.get("/api/v1/escalations", params={"agentId": id1}).json()["items"] == []
    assert [a["id"] for a in other.api.get("/api/v1/agents").json()["items"]] == [other.admin["id"]]
    assert other.api.get(f"/api/v1/conversations/{conv}").status_code == 404
    assert other.api.post(f"/api/v1/escalations/{esc_id}/accept").status_code == 404
    assert api.get("/api/v1/escalations").status_code == 401 and api.get("/api/v1/agents").status_code == 401
