"""Offers lapse and agents leave: an offer nobody answers goes to the next agent when its Cloud Task
fires (time moved, not slept) or, its task lost, when the sweep runs; an agent going offline or
deactivated gives back offers (and per settings conversations); `assign` refuses a deactivated
agent; skills match whatever their case."""
from __future__ import annotations

from datetime import timedelta

from bot_support import agent_doc, conversation, customer_says, escalations, new_agents, quiet_workspace, set_settings
from helpers import call_internal
from lifecycle_support import move_clock, now, queued, run_task
from messaging_support import wait_for, workspace


def _escalated(api, ws, **body):
    conv, _ = customer_says(api, ws, "hola")
    r = ws.api.post(f"/api/v1/conversations/{conv}/escalate", json=body)
    assert r.status_code == 201, r.text
    return conv, r.json()["escalation"]["id"]


def _offered(ws_id: str, esc_id: str, agent_id: str | None = None) -> dict:
    """The escalation once offered (to `agent_id` when given)."""
    return wait_for(lambda: next((e for e in escalations(ws_id) if e["id"] == esc_id and e["status"] == "assigned"
                                  and agent_id in (None, e["toAgentId"])), None))


def _one_offered_one_taken(api):
    """One agent holding two escalations: one offered, one accepted."""
    ws = workspace(api)
    quiet_workspace(ws.id)
    [(agent, agent_id)] = new_agents(api, ws, 1)
    _, offered_id = _escalated(api, ws)
    _offered(ws.id, offered_id, agent_id)
    conv, taken_id = _escalated(api, ws)
    _offered(ws.id, taken_id, agent_id)
    assert agent.post(f"/api/v1/escalations/{taken_id}/accept").status_code == 200
    return ws, agent, agent_id, offered_id, conv, taken_id


def test_an_offer_nobody_answers_goes_to_the_next_agent_when_its_task_fires(api):
    ws = workspace(api)
    quiet_workspace(ws.id)
    (a1, id1), (a2, id2) = new_agents(api, ws, 2)
    conv, esc_id = _escalated(api, ws)
    first = _offered(ws.id, esc_id)
    other = id2 if first["toAgentId"] == id1 else id1
    # The offer lapses after the workspace's offerTimeoutSeconds (default 120 s): its task is due then.
    [task] = wait_for(lambda: queued("offer_timeout", escalationId=esc_id))
    assert task["body"]["offerId"] == first["offerId"]
    assert abs((task["due"] - first["offerExpiresAt"]).total_seconds()) < 2
    assert 115 < (first["offerExpiresAt"] - first["assignedAt"]).total_seconds() < 125
    # Fired early (Cloud Tasks may, and nothing cancels it): the offer still stands.
    r = call_internal(api, "offer_timeout", task["body"])
    assert r.status_code == 200 and r.json() == {"ok": True, "expired": False, "note": "not_due"}

    move_clock(now() + timedelta(seconds=125))
    run_task(task["name"])
    second = _offered(ws.id, esc_id, other)
    assert second["skippedAgents"] == [first["toAgentId"]] and second["offerId"] != first["offerId"]
    wait_for(lambda: agent_doc(ws.id, first["toAgentId"])["currentConversations"] == 0)
    assert agent_doc(ws.id, other)["currentConversations"] == 1
    assert conversation(ws.id, conv)["assignedAgent"] == other
    # The lapsed offer's task again (a redelivery): the new offer is not touched.
    r = call_internal(api, "offer_timeout", task["body"])
    assert r.json()["expired"] is False and _offered(ws.id, esc_id)["toAgentId"] == other
    # The first agent can no longer accept what is now someone else's offer.
    lapsed = a1 if first["toAgentId"] == id1 else a2
    assert lapsed.post(f"/api/v1/escalations/{esc_id}/accept").status_code == 409


def test_the_sweep_returns_a_lapsed_offer_whose_task_was_lost(api):
    ws = workspace(api)
    quiet_workspace(ws.id)
    set_settings(ws.id, **{"escalation.offerTimeoutSeconds": 30})
    (_, id1), (_, id2) = new_agents(api, ws, 2)
    _, esc_id = _escalated(api, ws)
    first = _offered(ws.id, esc_id)
    move_clock(now() + timedelta(seconds=31))
    r = call_internal(api, "assignment_sweep", {}, headers={"X-CloudScheduler-ScheduleTime": "lapsed-1"})
    assert r.status_code == 200 and r.json()["started"] >= 1, r.text
    second = _offered(ws.id, esc_id, id2 if first["toAgentId"] == id1 else id1)
    assert second["skippedAgents"] == [first["toAgentId"]]
    again = call_internal(api, "assignment_sweep", {}, headers={"X-CloudScheduler-ScheduleTime": "lapsed-2"})
    assert again.json()["processed"] == 0            # the new offer has not lapsed: nothing to do


def test_an_agent_going_offline_gives_back_offers_and_per_settings_conversations(api):
    ws, agent, agent_id, offered_id, _, taken_id = _one_offered_one_taken(api)

    assert agent.patch("/api/v1/agents/me/status", json={"status": "offline"}).status_code == 200
    by_id = {e["id"]: e for e in escalations(ws.id)}
    assert by_id[offered_id]["status"] == "pending" and by_id[offered_id]["toAgentId"] is None
    assert by_id[taken_id]["status"] == "accepted"                  # default releaseOnOffline: "offers"
    assert agent_doc(ws.id, agent_id)["currentConversations"] == 1

    set_settings(ws.id, **{"escalation.releaseOnOffline": "offers_and_conversations"})
    assert agent.patch("/api/v1/agents/me/status", json={"status": "online"}).status_code == 200
    _offered(ws.id, offered_id, agent_id)
    assert agent.patch("/api/v1/agents/me/status", json={"status": "offline"}).status_code == 200
    assert {e["status"] for e in escalations(ws.id)} == {"pending"}
    assert agent_doc(ws.id, agent_id)["currentConversations"] == 0
    taken_conv = next(e for e in escalations(ws.id) if e["id"] == taken_id)["conversationId"]
    c = conversation(ws.id, taken_conv)
    assert c["status"] == "escalated" and c["assignedAgent"] is None     # waiting for the next agent


def test_a_deactivated_agent_gives_back_everything_and_cannot_be_assigned(api):
    ws, agent, agent_id, offered_id, conv, taken_id = _one_offered_one_taken(api)

    r = ws.api.post(f"/api/v1/users/{agent_id}/deactivate")
    assert r.status_code == 200 and r.json()["status"] == "inactive", r.text
    assert {e["status"] for e in escalations(ws.id)} == {"pending"}
    profile = agent_doc(ws.id, agent_id)
    assert (profile["currentConversations"], profile["status"], profile["active"]) == (0, "offline", False)
    r = ws.api.post(f"/api/v1/conversations/{conv}/assign", json={"agentId": agent_id})
    assert r.status_code == 409 and r.json()["error"]["code"] == "agent_inactive", r.text
    # A socket still open, a token not yet expired: they are not offered anything all the same.
    r = agent.patch("/api/v1/agents/me/status", json={"status": "online"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "account_inactive"
    assert {e["status"] for e in escalations(ws.id)} == {"pending"}


def test_a_skill_asked_for_in_any_case_matches_the_agent_who_has_it(api):
    ws = workspace(api)
    quiet_workspace(ws.id)
    set_settings(ws.id, **{"escalation.routeBySkill": True})
    [(_, plain_id)] = new_agents(api, ws, 1)
    [(_, billing_id)] = new_agents(api, ws, 1, skills=["billing"])
    _, esc_id = _escalated(api, ws, reason="factura", skills=[" Billing "])
    esc = _offered(ws.id, esc_id)
    assert esc["toAgentId"] == billing_id and esc["skills"] == ["billing"] and plain_id != billing_id
