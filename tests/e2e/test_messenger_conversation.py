"""A whole Messenger conversation: the bot answers, the customer asks for a person, the
conversation escalates to the online agent, whose reply reaches the Send API (fake Graph API);
Meta's read watermark then marks every reply read. And the offline sandbox Page: its signed
echo, delivery and read webhooks bring the bot's reply to `read` with nothing stored twice."""
from __future__ import annotations

import uuid

from bot_support import conversation, escalations, new_agents, outbound, set_settings
from messaging_support import messages, wait_for
from messenger_support import body, conv_id, message, notify, now_ms, page_channel, post, psid, watermark


def test_bot_answer_escalation_and_the_agent_s_reply_on_messenger(api, graph):
    page, customer = page_channel(api, graph, bot=True), psid()
    set_settings(page.ws, **{"escalation.timeoutHours": 0})
    (agent_api, agent_id), = new_agents(api, page, 1)
    cid = conv_id(customer, page.page_id)
    say = lambda text: notify(api, page, message(customer, page.page_id, text))  # noqa: E731

    assert say("¿a qué hora abren?").status_code == 200
    [answer] = wait_for(lambda: [m for m in outbound(page.ws, cid) if m["status"] == "sent"])
    assert "horario" in answer["text"]
    assert [s["body"]["message"]["text"] for s in graph.sent_to(customer)] == [answer["text"]]
    assert graph.sent_to(customer)[0]["body"]["messaging_type"] == "RESPONSE"

    assert say("quiero hablar con un agente").status_code == 200
    [esc] = wait_for(lambda: [e for e in escalations(page.ws) if e["status"] == "assigned"])
    assert esc["reason"] == "keyword" and esc["toAgentId"] == agent_id
    c = conversation(page.ws, cid)
    assert c["status"] == "escalated" and c["assignedAgent"] == agent_id and c["channel"] == "facebook"
    wait_for(lambda: len(graph.sent_to(customer)) == 2)          # the holding message

    r = agent_api.post("/api/v1/messages", json={"conversationId": cid, "messageId": str(uuid.uuid4()),
                                                 "text": "Hola, soy Ana. ¿Qué necesitas?"})
    assert r.status_code == 201, r.text
    wait_for(lambda: len(graph.sent_to(customer)) == 3)
    assert graph.sent_to(customer)[-1]["body"]["message"] == {"text": "Hola, soy Ana. ¿Qué necesitas?"}
    mine = wait_for(lambda: [m for m in outbound(page.ws, cid, "agent") if m["status"] == "sent"])
    assert mine[0]["senderId"] == agent_id

    assert post(api, body((page.page_id, [watermark(customer, page.page_id, "read", now_ms())])),
                page.app_secret).status_code == 200
    assert {m["status"] for m in messages(page.ws, cid) if m["direction"] == "outbound"} == {"read"}


def test_the_sandbox_page_reports_delivery_and_read_with_signed_webhooks(api):
    page, customer = page_channel(api, bot=True), psid()
    cid = conv_id(customer, page.page_id)
    assert notify(api, page, message(customer, page.page_id, "hola")).status_code == 200
    [reply] = wait_for(lambda: [m for m in outbound(page.ws, cid) if m["status"] == "read"])
    assert reply["providerId"].startswith("m_sandbox") and reply["senderType"] == "bot"
    # The sandbox's echo of the reply carried the channel's own app id: skipped, not stored again.
    assert len(messages(page.ws, cid)) == 2
