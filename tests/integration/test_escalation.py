"""Escalation triggers (keyword, intent, low confidence, timeout, manual), the bot staying silent
while escalated, accept/reject, reassign, return-to-bot, redelivered task handlers, and bad input."""
from __future__ import annotations

import time

from bot_support import (agent_doc, conversation, customer_says, escalations,
                         new_agents, outbound, quiet_workspace, set_settings)
from helpers import call_internal
from messaging_support import wait_for, workspace


def test_keyword_escalates_case_and_accent_insensitively_without_calling_the_llm(api, openai_fake):
    ws = workspace(api)
    set_settings(ws.id, **{"bot.provider": "openai", "escalation.timeoutHours": 0})
    (agent_api, agent_id), = new_agents(api, ws, 1)
    conv, msg_id = customer_says(api, ws, "Quiero hablar con un ÁSESOR por favor")
    [esc] = wait_for(lambda: [e for e in escalations(ws.id) if e["status"] == "assigned"])
    assert esc["reason"] == "keyword" and esc["detail"] == "asesor" and esc["toAgentId"] == agent_id
    assert esc["trigger"] == msg_id and esc["fromType"] == "bot"
    c = conversation(ws.id, conv)
    assert c["status"] == "escalated" and c["botEnabled"] is False and c["assignedAgent"] == agent_id
    assert agent_doc(ws.id, agent_id)["currentConversations"] == 1
    assert [m["text"] for m in outbound(ws.id, conv)] == ["Gracias por tu mensaje. Te comunicaremos con un "
                                                          "agente en breve."]
    assert openai_fake.calls(about="ÁSESOR") == 0
    # The agent accepts; accepting twice is the same as once.
    for _ in range(2):
        r = agent_api.post(f"/api/v1/escalations/{esc['id']}/accept")
        assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
    # While escalated the bot never answers, and agent messages never trigger it.
    customer = c["customer"]["address"]
    customer_says(api, ws, "¿sigue ahí?", customer=customer)
    r = agent_api.post("/api/v1/messages", json={"conversationId": conv, "messageId": "0b0e4f5e-3c55-4c1c-9d7f-"
                                                                                      "8e1b2a3c4d5e", "text": "Hola, soy Ana"})
    assert r.status_code in (200, 201), r.text
    time.sleep(1.5)
    assert len(outbound(ws.id, conv, "bot")) == 1 and openai_fake.calls(about="¿sigue ahí?") == 0 \
        and len(escalations(ws.id)) == 1


def test_intent_and_low_confidence_escalate(api, openai_fake):
    ws = workspace(api)
    set_settings(ws.id, **{"bot.provider": "openai", "escalation.timeoutHours": 0,
                            "escalation.confidenceThreshold": 0.6})
    openai_fake.when("reembolso", reply="Te paso con un agente.", intent="refund", confidence=0.9, escalate=True,
                     reason="refund requires a human")
    openai_fake.when("garantía", reply="Creo que sí", intent="warranty", confidence=0.4)
    conv1, _ = customer_says(api, ws, "quiero un reembolso")
    conv2, _ = customer_says(api, ws, "¿tiene garantía?")
    wait_for(lambda: len(escalations(ws.id)) == 2)
    by_conv = {e["conversationId"]: e for e in escalations(ws.id)}
    assert by_conv[conv1]["reason"] == "intent" and by_conv[conv1]["detail"] == "refund requires a human"
    assert by_conv[conv2]["reason"] == "low_confidence"
    assert [m["text"] for m in outbound(ws.id, conv1)] == ["Te paso con un agente."]
    assert outbound(ws.id, conv2)[0]["text"].startswith("Gracias por tu mensaje")   # never the unsure answer
    assert all(e["status"] == "pending" for e in escalations(ws.id))                   # nobody online


def test_timeout_escalates_only_unanswered_messages(api):
    ws = workspace(api)
    # 10 seconds: the agent's reply below must land before it, even on a loaded machine
    set_settings(ws.id, **{"bot.enabled": False, "escalation.timeoutHours": 10 / 3600})
    unanswered, _ = customer_says(api, ws, "¿alguien?")
    answered, _ = customer_says(api, ws, "hola")
    (agent_api, _), = new_agents(api, ws, 1, status="offline")
    admin = ws.api
    r = admin.post("/api/v1/messages", json={"conversationId": answered,
                                             "messageId": "6f9a7c1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b", "text": "¡Hola!"})
    assert r.status_code in (200, 201), r.text
    [esc] = wait_for(lambda: escalations(ws.id), timeout=60)
    assert esc["conversationId"] == unanswered and esc["reason"] == "timeout" and esc["fromType"] == "system"
    time.sleep(2)
    assert len(escalations(ws.id)) == 1 and conversation(ws.id, answered)["status"] == "open"
    # The timeout task delivered again (Cloud Tasks cannot cancel it, and may repeat it): no effect.
    task = {"workspaceId": ws.id, "conversationId": unanswered, "messageId": esc["trigger"].split(":")[0]}
    for _ in range(2):
        r = call_internal(api, "escalation_timeout", task, timeout=30)
        assert r.status_code == 200, r.text
    assert len(escalations(ws.id)) == 1


def test_manual_escalation_reject_goes_to_next_agent_then_return_to_bot(api):
    ws = workspace(api)
    quiet_workspace(ws.id)
    conv, _ = customer_says(api, ws, "hola")
    (a1, id1), (a2, id2) = new_agents(api, ws, 2)
    r = a1.post(f"/api/v1/conversations/{conv}/escalate", json={"reason": "VIP customer"})
    assert r.status_code == 201, r.text
    esc_id = r.json()["escalation"]["id"]
    assert r.json()["escalation"]["reason"] == "manual" and r.json()["escalation"]["detail"] == "VIP customer"
    again = a1.post(f"/api/v1/conversations/{conv}/escalate", json={})
    assert again.status_code == 200 and again.json()["escalation"]["id"] == esc_id      # already escalated
    esc = wait_for(lambda: next((e for e in escalations(ws.id) if e["status"] == "assigned"), None))
    first, other = (a1, a2) if esc["toAgentId"] == id1 else (a2, a1)
    first_id, other_id = esc["toAgentId"], (id2 if esc["toAgentId"] == id1 else id1)
    # Only the offered agent may answer; the other gets 409.
    assert other.post(f"/api/v1/escalations/{esc_id}/accept").status_code == 409
    for _ in range(2):
        r = first.post(f"/api/v1/escalations/{esc_id}/reject", json={"reason": "busy"})
        assert r.status_code == 200, r.text
    esc = wait_for(lambda: next((e for e in escalations(ws.id) if e["toAgentId"] == other_id), None))
    assert esc["status"] == "assigned" and esc["rejectedBy"] == [first_id]
    wait_for(lambda: agent_doc(ws.id, first_id)["currentConversations"] == 0)
    assert agent_doc(ws.id, other_id)["currentConversations"] == 1
    assert other.post(f"/api/v1/escalations/{esc_id}/accept").status_code == 200
    # Return to bot: unassigns, frees the slot, resumes the bot, completes the escalation.
    for _ in range(2):
        r = other.post(f"/api/v1/conversations/{conv}/return-to-bot")
        assert r.status_code == 200, r.text
    c = conversation(ws.id, conv)
    assert c["status"] == "open" and c["botEnabled"] is True and c["assignedAgent"] is None
    [done] = escalations(ws.id)
    assert done["status"] == "completed" and done["completion"] == "returned_to_bot"
    assert agent_doc(ws.id, other_id)["currentConversations"] == 0
    # The bot answers again (offline provider, greeting).
    set_settings(ws.id, **{"bot.enabled": True})
    customer_says(api, ws, "hola otra vez", customer=c["customer"]["address"])
    wait_for(lambda: outbound(ws.id, conv, "bot"))


def test_assign_and_reassign_move_the_slot(api):
    ws = workspace(api)
    quiet_workspace(ws.id)
    conv, _ = customer_says(api, ws, "hola")
    (a1, id1), (a2, id2) = new_agents(api, ws, 2, status="offline", capacity=1)
    r = ws.api.post(f"/api/v1/conversations/{conv}/assign", json={"agentId": id1})
    assert r.status_code == 200 and r.json()["toAgentId"] == id1 and r.json()["status"] == "assigned", r.text
    assert conversation(ws.id, conv)["assignedAgent"] == id1 and agent_doc(ws.id, id1)["currentConversations"] == 1
    # a2 cannot take a conversation assigned to a1 (agents transfer only their own) ...
    assert a2.post(f"/api/v1/conversations/{conv}/assign", json={"agentId": id2}).status_code == 403
    # ... but a1 can transfer it to a2.
    r = a1.post(f"/api/v1/conversations/{conv}/assign", json={"agentId": id2})
    assert r.status_code == 200 and r.json()["toAgentId"] == id2, r.text
    assert agent_doc(ws.id, id1)["currentConversations"] == 0 and agent_doc(ws.id, id2)["currentConversations"] == 1
    # A full agent is refused with a clear 409.
    conv2, _ = customer_says(api, ws, "hola")
    r = ws.api.post(f"/api/v1/conversations/{conv2}/assign", json={"agentId": id2})
    assert r.status_code == 409 and r.json()["error"]["code"] == "agent_at_capacity"
    assert len(escalations(ws.id)) == 1


def test_closing_an_escalated_conversation_frees_the_agent_slot(api):
    ws = workspace(api)
    quiet_workspace(ws.id)
    conv, _ = customer_says(api, ws, "hola")
    [(agent, agent_id)] = new_agents(api, ws, 1, status="offline", capacity=1)
    assert ws.api.post(f"/api/v1/conversations/{conv}/assign", json={"agentId": agent_id}).status_code == 200
    assert agent_doc(ws.id, agent_id)["currentConversations"] == 1
    for _ in range(2):  # a repeated close changes nothing more
        r = agent.post(f"/api/v1/conversations/{conv}/status", json={"status": "closed"})
        assert r.status_code == 200 and r.json()["status"] == "closed", r.text
    assert agent_doc(ws.id, agent_id)["currentConversations"] == 0
    [done] = escalations(ws.id)
    assert done["status"] == "completed"
    assert conversation(ws.id, conv)["assignedAgent"] is None


def test_bad_input_is_4xx(api):
    ws = workspace(api)
    quiet_workspace(ws.id)
    conv, _ = customer_says(api, ws, "hola")
    (agent_api, _), = new_agents(api, ws, 1)
    assert agent_api.post("/api/v1/conversations/conv_nope/escalate", json={}).status_code == 404
    assert agent_api.post(f"/api/v1/conversations/{conv}/escalate", json={"bogus": 1}).status_code == 422
    assert agent_api.post(f"/api/v1/conversations/{conv}/assign", json={}).status_code == 422
    assert ws.api.post(f"/api/v1/conversations/{conv}/assign", json={"agentId": "nobody"}).status_code == 404
    assert agent_api.post("/api/v1/escalations/esc_nope/accept").status_code == 404
    assert agent_api.post("/api/v1/escalations/esc_nope/reject", json={}).status_code == 404
    assert agent_api.patch("/api/v1/agents/me/status", json={"status": "sleeping"}).status_code == 422
    assert api.post(f"/api/v1/conversations/{conv}/escalate", json={}).status_code == 401
    r = call_internal(api, "assignment_run", {"nope": 1}, timeout=30)
    assert r.status_code == 200 and r.json()["dropped"] == "invalid_task"   # acknowledged, never retried
