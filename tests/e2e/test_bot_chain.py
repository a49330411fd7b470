"""The whole story on the real chain: a customer writes on WhatsApp (signed Twilio webhook), the
bot answers through the fake OpenAI, the customer asks for a person, an agent comes online, gets
it, accepts, answers and hands back to the bot, which answers again; the realtime events of each
step are read from the realtime feed (tests/realtime_support.py) with their pydantic payloads."""
from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from bot_support import (agent_doc, conversation, customer_says, escalations, new_agents,
                         outbound, set_settings)
from messaging_support import wait_for, workspace
from realtime_support import RealtimeReader


@pytest.fixture
def realtime(stack):
    """A function returning the realtime events so far (tests/realtime_support.py)."""
    reader = RealtimeReader()
    yield reader.pull
    reader.close()


def _events(pull, ws_id: str, name: str) -> list[dict]:
    return [e for e in pull() if e["workspaceId"] == ws_id and e["event"] == name]


def test_customer_bot_agent_and_back(api, realtime, openai_fake):
    from utalk.models.bot import BotResumedPayload
    from utalk.models.escalations import (ConversationAssignedPayload, EscalationAcceptedPayload,
                                          EscalationStartedPayload)
    from utalk.models.events import ConversationUpdated
    from utalk.services.bot import reply_key

    ws = workspace(api)
    set_settings(ws.id, **{"bot.provider": "openai", "escalation.timeoutHours": 0})
    (agent_api, agent_id), = new_agents(api, ws, 1, status="offline")
    openai_fake.when("envío", reply="El envío tarda 2 días.", intent="shipping", confidence=0.9)

    conv, _ = customer_says(api, ws, "¿Cuánto tarda el envío?")
    customer = conversation(ws.id, conv)["customer"]["address"]
    wait_for(lambda: [m for m in outbound(ws.id, conv) if m["text"] == "El envío tarda 2 días."], timeout=60)

    customer_says(api, ws, "mejor quiero hablar con un humano", customer=customer)
    [started] = wait_for(lambda: _events(realtime, ws.id, "escalation:started"), timeout=60)
    payload = EscalationStartedPayload.model_validate(started["payload"])
    assert payload.reason == "keyword" and payload.conversationId == conv
    assert started["attributes"]["audience"] == "workspace,conversation"
    assert conversation(ws.id, conv)["status"] == "escalated"
    [esc] = escalations(ws.id)
    assert esc["status"] == "pending"                       # nobody online yet: it waits

    assert agent_api.patch("/api/v1/agents/me/status", json={"status": "online"}).status_code == 200
    [assigned] = wait_for(lambda: _events(realtime, ws.id, "conversation:assigned"), timeout=60)
    assert ConversationAssignedPayload.model_validate(assigned["payload"]).agentId == agent_id
    assert assigned["attributes"]["agentId"] == agent_id

    assert agent_api.post(f"/api/v1/escalations/{esc['id']}/accept").status_code == 200
    [accepted] = wait_for(lambda: _events(realtime, ws.id, "escalation:accepted"), timeout=60)
    assert EscalationAcceptedPayload.model_validate(accepted["payload"]).escalationId == esc["id"]
    r = agent_api.post("/api/v1/messages", json={"conversationId": conv, "messageId": str(uuid.uuid4()),
                                                 "text": "Hola, soy Ana. ¿En qué te ayudo?"})
    assert r.status_code in (200, 201), r.text
    customer_says(api, ws, "¿me cambian la dirección de envío?", customer=customer)   # agent's turn, not the bot's

    assert agent_api.post(f"/api/v1/conversations/{conv}/return-to-bot").status_code == 200
    [resumed] = wait_for(lambda: _events(realtime, ws.id, "bot:resumed"), timeout=60)
    assert BotResumedPayload.model_validate(resumed["payload"]).by == agent_id
    updates = [ConversationUpdated.model_validate(e["payload"]) for e in _events(realtime, ws.id,
                                                                                  "conversation:updated")]
    assert {u.reason for u in updates} >= {"bot", "assignment"}
    assert agent_doc(ws.id, agent_id)["currentConversations"] == 0

    _, last = customer_says(api, ws, "gracias, ¿y el envío express?", customer=customer)
    wait_for(lambda: [m for m in outbound(ws.id, conv) if m["messageId"] == reply_key(last)], timeout=60)
    # Nothing from the bot while the agent had the conversation (the message sent then may be
    # answered once the bot is back, if its dispatch came after the return: that race is real).
    held = (_at(started["occurredAt"]), _at(resumed["occurredAt"]))
    assert not [m for m in outbound(ws.id, conv) if held[0] < m["createdAt"] < held[1]]
    asked = [_last_user(body) for body in openai_fake.requests_about("¿Cuánto tarda el envío?")]
    assert asked.count("¿Cuánto tarda el envío?") == 1 and asked.count("gracias, ¿y el envío express?") == 1
    assert "mejor quiero hablar con un humano" not in asked       # the keyword needed no LLM
    assert asked.count("¿me cambian la dirección de envío?") <= 1


def _at(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def _last_user(body: dict) -> str:
    return next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
