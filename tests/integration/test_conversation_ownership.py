"""Who may close, hand back or transfer a conversation: its assigned agent or an admin (issue 12.7).

Everything through HTTP. A colleague who can see the conversation (visibility "all") gets 403
`not_your_conversation` and nothing changes; under visibility "assigned" the conversation is not
theirs to see, so every action on it is the same 404 as reading it.
"""
from __future__ import annotations

import pytest

from bot_support import agent_doc, conversation, customer_says, escalations, new_agents, quiet_workspace, set_settings
from messaging_support import workspace


@pytest.fixture
def taken(api):
    """A conversation assigned to agent `owner`; `colleague` is another agent; ws.api is the admin."""
    ws = workspace(api)
    quiet_workspace(ws.id)
    conv, _ = customer_says(api, ws, "hola")
    (owner, owner_id), (colleague, colleague_id), (third, third_id) = new_agents(api, ws, 3, status="offline")
    r = ws.api.post(f"/api/v1/conversations/{conv}/assign", json={"agentId": owner_id})
    assert r.status_code == 200, r.text
    return {"ws": ws, "conv": conv, "owner": owner, "owner_id": owner_id, "colleague": colleague,
            "colleague_id": colleague_id, "third_id": third_id}


def _state(t) -> dict:
    """What an action may change: the conversation, its escalation, the agents' slots."""
    c = conversation(t["ws"].id, t["conv"])
    [esc] = escalations(t["ws"].id)
    return {"status": c["status"], "assignedAgent": c["assignedAgent"], "botEnabled": c["botEnabled"],
            "escalation": (esc["status"], esc["toAgentId"]),
            "slots": [agent_doc(t["ws"].id, t[k])["currentConversations"]
                      for k in ("owner_id", "colleague_id", "third_id")]}


def _refused(r, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code


def _colleague_actions(t):
    conv = f"/api/v1/conversations/{t['conv']}"
    return [("close", lambda api: api.post(f"{conv}/status", json={"status": "closed"})),
            ("return-to-bot", lambda api: api.post(f"{conv}/return-to-bot")),
            ("take", lambda api: api.post(f"{conv}/assign", json={"agentId": t["colleague_id"]})),
            ("transfer", lambda api: api.post(f"{conv}/assign", json={"agentId": t["third_id"]}))]


def test_a_colleague_cannot_close_hand_back_or_transfer_and_nothing_changes(taken):
    before = _state(taken)
    assert before == {"status": "escalated", "assignedAgent": taken["owner_id"], "botEnabled": False,
                      "escalation": ("assigned", taken["owner_id"]), "slots": [1, 0, 0]}
    for name, action in _colleague_actions(taken):
        r = action(taken["colleague"])
        _refused(r, 403, "not_your_conversation")
        assert _state(taken) == before, name
    # Leaving `escalated` for any status ends the escalation: the holder's (or an admin's) to do too.
    r = taken["colleague"].post(f"/api/v1/conversations/{taken['conv']}/status", json={"status": "pending"})
    _refused(r, 403, "not_your_conversation")
    assert _state(taken) == before


def test_the_assigned_agent_may_close(taken):
    r = taken["owner"].post(f"/api/v1/conversations/{taken['conv']}/status", json={"status": "closed"})
    assert r.status_code == 200 and r.json()["status"] == "closed", r.text
    assert _state(taken)["slots"] == [0, 0, 0]


def test_the_assigned_agent_may_transfer_then_hand_back(taken):
    conv = f"/api/v1/conversations/{taken['conv']}"
    r = taken["owner"].post(f"{conv}/assign", json={"agentId": taken["colleague_id"]})
    assert r.status_code == 200 and r.json()["toAgentId"] == taken["colleague_id"], r.text
    # The former owner is now the colleague: refused like any other.
    _refused(taken["owner"].post(f"{conv}/return-to-bot"), 403, "not_your_conversation")
    r = taken["colleague"].post(f"{conv}/return-to-bot")
    assert r.status_code == 200 and r.json()["changed"] is True, r.text
    assert _state(taken)["assignedAgent"] is None
    # Again (a double click): nothing to release, nothing written, the same answer but `changed`.
    before, written = _state(taken), conversation(taken["ws"].id, taken["conv"])["updatedAt"]
    r = taken["colleague"].post(f"{conv}/return-to-bot")
    assert r.status_code == 200 and r.json()["changed"] is False, r.text
    assert _state(taken) == before and conversation(taken["ws"].id, taken["conv"])["updatedAt"] == written


@pytest.mark.parametrize("action", ["close", "return-to-bot", "transfer"])
def test_an_admin_may_do_each(taken, action):
    [(_, run)] = [(n, a) for n, a in _colleague_actions(taken) if n == action]
    r = run(taken["ws"].api)
    assert r.status_code == 200, r.text
    after = _state(taken)
    expected = {"close": ("closed", None), "return-to-bot": ("open", None),
                "transfer": ("escalated", taken["third_id"])}[action]
    assert (after["status"], after["assignedAgent"]) == expected


def test_under_assigned_visibility_a_colleague_gets_the_same_404_as_for_reading(taken):
    set_settings(taken["ws"].id, agentVisibility="assigned")
    before = _state(taken)
    colleague = taken["colleague"]
    _refused(colleague.get(f"/api/v1/conversations/{taken['conv']}"), 404, "conversation_not_found")
    for name, action in _colleague_actions(taken):
        _refused(action(colleague), 404, "conversation_not_found")
        assert _state(taken) == before, name
    _refused(colleague.post(f"/api/v1/conversations/{taken['conv']}/escalate", json={}), 404,
             "conversation_not_found")
    # The owner still sees and closes their own.
    r = taken["owner"].post(f"/api/v1/conversations/{taken['conv']}/status", json={"status": "closed"})
    assert r.status_code == 200, r.text


def test_under_assigned_visibility_an_agent_cannot_take_what_they_cannot_see(api):
    ws = workspace(api)
    quiet_workspace(ws.id)
    set_settings(ws.id, agentVisibility="assigned")
    conv, _ = customer_says(api, ws, "hola")
    [(agent, agent_id)] = new_agents(api, ws, 1, status="offline")
    _refused(agent.post(f"/api/v1/conversations/{conv}/assign", json={"agentId": agent_id}), 404,
             "conversation_not_found")
    assert conversation(ws.id, conv)["assignedAgent"] is None and escalations(ws.id) == []
