"""The bot through the real chain (webhook -> Pub/Sub -> bot_dispatch -> Cloud Tasks -> bot_run ->
fake OpenAI via the official client -> queue_outbound -> sender), its BotRun record, idempotency of
redelivered tasks, the LLM failure path and the offline provider."""
from __future__ import annotations

import base64
import json

from bot_support import (bot_runs, conversation, customer_says, escalations,
                         outbound, set_settings)
from helpers import call_internal
from messaging_support import wait_for, workspace


def openai_workspace(api):
    ws = workspace(api)
    set_settings(ws.id, **{"bot.provider": "openai", "bot.systemPrompt": "Eres el asistente de Acme.",
                            "escalation.timeoutHours": 0})
    return ws


def test_bot_answers_through_the_chain_and_records_the_run(api, openai_fake):
    ws = openai_workspace(api)
    openai_fake.when("¿A qué hora abren?", reply="Abrimos de 9 a 18 h.", intent="hours", confidence=0.95)
    conv, msg_id = customer_says(api, ws, "¿A qué hora abren?")
    [reply] = wait_for(lambda: outbound(ws.id, conv))
    assert reply["text"] == "Abrimos de 9 a 18 h." and reply["senderId"] == "bot"
    wait_for(lambda: outbound(ws.id, conv)[0]["status"] in ("sent", "delivered"))   # the sender delivered it
    [run] = wait_for(lambda: [r for r in bot_runs(ws.id) if r.get("outcome")])
    assert run["provider"] == "openai" and run["model"] == "gpt-4o-mini" and run["messageId"] == msg_id
    assert run["prompt"][0]["role"] == "system" and "Eres el asistente de Acme." in run["prompt"][0]["content"]
    assert run["prompt"][-1] == {"role": "user", "content": "¿A qué hora abren?"}
    assert json.loads(run["response"])["intent"] == "hours" and run["outcome"] == "replied"
    assert run["tokensIn"] > 0 and run["tokensOut"] > 0 and run["durationMs"] >= 0
    assert run["costUsd"] == round((run["tokensIn"] * 0.15 + run["tokensOut"] * 0.60) / 1e6, 8)
    # What the official client sent: the model, the JSON-schema response format, the context.
    [sent] = openai_fake.requests_about("¿A qué hora abren?")
    assert sent["model"] == "gpt-4o-mini" and sent["response_format"]["type"] == "json_schema"
    assert conversation(ws.id, conv)["status"] == "open" and not escalations(ws.id)
    print(f"\nBotRun figures: {run['durationMs']} ms, {run['tokensIn']} in / {run['tokensOut']} out, "
          f"${run['costUsd']:.8f}")


def test_redelivered_bot_run_and_dispatch_reply_once(api, openai_fake):
    ws = openai_workspace(api)
    conv, msg_id = customer_says(api, ws, "¿Tienen envío a domicilio?")
    wait_for(lambda: outbound(ws.id, conv))
    task = {"workspaceId": ws.id, "conversationId": conv, "messageId": msg_id}
    for _ in range(2):   # Cloud Tasks redelivers the run
        r = call_internal(api, "bot_run", task, timeout=30)
        assert r.status_code == 200, r.text
    push = {"message": {"data": base64.b64encode(json.dumps(task).encode()).decode(), "messageId": "1",
                        "attributes": task}, "subscription": "projects/p/subscriptions/s"}
    for _ in range(2):   # Pub/Sub redelivers message-received
        assert call_internal(api, "bot_dispatch", push, timeout=30).status_code in (200, 204)
    wait_for(lambda: openai_fake.calls(about="¿Tienen envío a domicilio?") >= 1)
    import time
    time.sleep(1.5)      # give the redelivered runs time to (not) act
    assert len(outbound(ws.id, conv)) == 1 and len(bot_runs(ws.id)) == 1 \
        and openai_fake.calls(about="¿Tienen envío a domicilio?") == 1


def test_malformed_task_body_is_acknowledged_not_retried(api):
    """Cloud Tasks retries anything but a 2xx: a body that can never be valid is acknowledged."""
    r = call_internal(api, "bot_run", {"workspaceId": "ws_x"}, timeout=30)
    assert r.status_code == 200 and r.json() == {"ok": False, "dropped": "invalid_task"}
    r = call_internal(api, "bot_run", data=b"not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["dropped"] == "invalid_task"


def test_llm_timeout_sends_holding_message_and_escalates(api, openai_fake):
    ws = openai_workspace(api)
    openai_fake.hang_seconds = 4      # past the client's 2 s test timeout, on every retry
    openai_fake.when_timeout("necesito cambiar mi pedido")
    conv, _ = customer_says(api, ws, "necesito cambiar mi pedido")
    [esc] = wait_for(lambda: escalations(ws.id), timeout=30)
    assert esc["reason"] == "timeout" and esc["status"] in ("pending", "assigned")
    [hold] = outbound(ws.id, conv)
    assert hold["text"].startswith("Gracias por tu mensaje")
    c = conversation(ws.id, conv)
    assert c["status"] == "escalated" and c["botEnabled"] is False and c["escalationId"] == esc["id"]
    [run] = bot_runs(ws.id)
    assert run["outcome"] == "failed" and run["error"].startswith("timeout") and run["costUsd"] == 0


def test_llm_error_and_invalid_output_escalate_with_reason_error(api, openai_fake):
    ws = openai_workspace(api)
    openai_fake.when_fail("¿me ayudan con mi cuenta?", 500)    # the client retries 5xx; all fail
    conv, _ = customer_says(api, ws, "¿me ayudan con mi cuenta?")
    [esc] = wait_for(lambda: escalations(ws.id), timeout=30)
    assert esc["reason"] == "error" and len(outbound(ws.id, conv)) == 1
    assert openai_fake.calls(about="¿me ayudan con mi cuenta?") == 2   # first try + UTALK_AI_MAX_RETRIES=1
    openai_fake.when_garbage("otra pregunta")
    conv2, _ = customer_says(api, ws, "otra pregunta")
    wait_for(lambda: [e for e in escalations(ws.id) if e["conversationId"] == conv2], timeout=30)
    assert [e["reason"] for e in escalations(ws.id) if e["conversationId"] == conv2] == ["error"]


def test_offline_provider_answers_from_the_workspace_faq(api, openai_fake):
    ws = workspace(api)
    set_settings(ws.id, **{"bot.provider": "offline", "escalation.timeoutHours": 0, "bot.faq": [
        {"keywords": ["horario", "abren"], "answer": "Abrimos de 9 a 18 h.", "intent": "hours"}]})
    conv, _ = customer_says(api, ws, "¿Cuál es su HORARIO?")
    [reply] = wait_for(lambda: outbound(ws.id, conv))
    assert reply["text"] == "Abrimos de 9 a 18 h."
    [run] = wait_for(lambda: [r for r in bot_runs(ws.id) if r.get("outcome")])
    assert run["provider"] == "offline" and run["costUsd"] == 0 and run["decision"]["intent"] == "hours"
    # Something the FAQ does not know: low confidence -> holding message and escalation.
    conv2, _ = customer_says(api, ws, "mi factura salió con otro RFC")
    [esc] = wait_for(lambda: escalations(ws.id))
    assert esc["reason"] == "low_confidence" and esc["conversationId"] == conv2
    assert openai_fake.calls(about="HORARIO") == 0 and openai_fake.calls(about="otro RFC") == 0


def test_tasks_and_pushes_naming_nothing_are_acknowledged_not_retried(api):
    for fn, body in (("bot_run", {"workspaceId": "ws_none", "conversationId": "conv_x", "messageId": "msg_x"}),
                     ("escalation_timeout", {"workspaceId": "ws_none", "conversationId": "c/x", "messageId": "m"}),
                     ("assignment_run", {"workspaceId": "ws_none"})):
        r = call_internal(api, fn, body)
        assert r.status_code == 200, (fn, r.text)
    push = {"message": {"data": "", "messageId": "1", "attributes": {"workspaceId": "a/b", "conversationId": "c",
                                                                    "messageId": "m"}}, "subscription": "s"}
    assert call_internal(api, "bot_dispatch", push, timeout=30).status_code in (200, 204)
    # A push without the ids: acknowledged too (Pub/Sub would redeliver it forever).
    r = call_internal(api, "bot_dispatch", {"message": {}})
    assert r.status_code == 200 and r.json()["dropped"] == "invalid_attributes"
