"""Messages API: history pagination, agent sends (dedup, validation, 24 h rule, rate limit)."""
from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from messaging_support import (INBOUND, agent, conv_id, conversation_doc, db, inbound_form, post_signed,
                               wait_for, workspace)

CUSTOMER = "+5215512345678"


def _conversation(api, ws, customer=CUSTOMER) -> str:
    assert post_signed(api, INBOUND, inbound_form(ws.number, customer)).status_code == 200
    return conv_id(customer, ws.number)


def _send(ws_api, cid, **body):
    return ws_api.post("/api/v1/messages", json={"conversationId": cid, "messageId": str(uuid.uuid4()), **body})


def _outbox(ws_id, message_id):
    """What the sandbox recorded for one message (the bot may reply on its own in the same workspace)."""
    docs = db().collection("workspaces").document(ws_id).collection("sandboxOutbox").stream()
    return [d.to_dict() for d in docs if d.to_dict()["messageId"] == message_id]


def test_history_is_paginated_newest_first(api):
    ws = workspace(api, bot=False)
    for i in range(5):
        post_signed(api, INBOUND, inbound_form(ws.number, CUSTOMER, f"m{i}"))
    cid = conv_id(CUSTOMER, ws.number)
    texts, cursor = [], None
    while True:
        body = ws.api.get(f"/api/v1/conversations/{cid}/messages",
                          params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        texts += [m["text"] for m in body["items"]]
        cursor = body["nextCursor"]
        if not cursor:
            break
    assert texts == ["m4", "m3", "m2", "m1", "m0"]
    assert ws.api.get(f"/api/v1/conversations/{cid}/messages", params={"cursor": "eyJ4Ijox"}).status_code == 400


def test_agent_send_goes_out_through_the_sandbox_and_statuses_come_back(api):
    ws = workspace(api, bot=False)
    cid = _conversation(api, ws)
    r = _send(ws.api, cid, text="¡Hola! ¿En qué te ayudo?")
    assert r.status_code == 201, r.text
    msg = r.json()
    assert msg["status"] == "queued" and msg["direction"] == "outbound" and msg["senderType"] == "agent"
    ref = conversation_doc(ws.id, cid).collection("messages").document(msg["id"])
    final = wait_for(lambda: (d := ref.get().to_dict()) and d["status"] == "read" and d)
    assert final["providerId"].startswith("SM") and set(final["statusAt"]) >= {"sent", "delivered", "read"}
    [out] = _outbox(ws.id, msg["id"])
    assert out["to"] == f"whatsapp:{CUSTOMER}" and out["body"] == "¡Hola! ¿En qué te ayudo?"
    conv = conversation_doc(ws.id, cid).get().to_dict()
    assert conv["messageCount"] >= 2  # the customer's, ours (and the bot's greeting, if it answered)


def test_retried_send_returns_the_same_message_and_sends_once(api):
    ws = workspace(api, bot=False)
    cid = _conversation(api, ws)
    body = {"conversationId": cid, "messageId": str(uuid.uuid4()), "text": "una vez"}
    first = ws.api.post("/api/v1/messages", json=body)
    again = [ws.api.post("/api/v1/messages", json=body) for _ in range(3)]
    assert first.status_code == 201 and {r.status_code for r in again} == {200}
    assert {r.json()["id"] for r in again} == {first.json()["id"]}
    ref = conversation_doc(ws.id, cid).collection("messages").document(first.json()["id"])
    wait_for(lambda: ref.get().get("status") == "read")
    assert len(_outbox(ws.id, ref.id)) == 1


def test_invalid_sends_are_4xx(api):
    ws = workspace(api, bot=False)
    cid = _conversation(api, ws)
    assert _send(ws.api, cid, text="x" * 4097).status_code == 422
    assert _send(ws.api, cid, text="x" * 4096).status_code == 201
    assert _send(ws.api, cid).status_code == 422
    assert _send(ws.api, cid, text="   ").status_code == 422
    assert ws.api.post("/api/v1/messages", json={"conversationId": cid, "messageId": str(uuid.uuid1()),
                                                 "text": "x"}).status_code == 422
    assert _send(ws.api, "conv_missing", text="x").status_code == 404
    assert _send(ws.api, cid, mediaId="media_nope").status_code == 422
    assert _send(ws.api, cid, location={"latitude": 100, "longitude": 0}).status_code == 422
    assert ws.api.post("/api/v1/messages", data="not json").status_code == 415


def test_other_workspace_cannot_send_into_a_conversation(api):
    ws, other = workspace(api, bot=False), workspace(api, bot=False)
    cid = _conversation(api, ws)
    assert _send(other.api, cid, text="hola").status_code == 404


def test_agent_cannot_send_on_a_conversation_assigned_to_someone_else(api):
    ws = workspace(api, bot=False)
    cid = _conversation(api, ws)
    agent_api, agent_id = agent(ws, api)
    conversation_doc(ws.id, cid).update({"assignedAgent": "someone-else"})
    r = _send(agent_api, cid, text="hola")
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_assigned"
    conversation_doc(ws.id, cid).update({"assignedAgent": agent_id})
    assert _send(agent_api, cid, text="hola").status_code == 201


def test_whatsapp_24h_window(api):
    ws = workspace(api, bot=False)
    cid = _conversation(api, ws)
    conversation_doc(ws.id, cid).update({"lastInboundAt": datetime.now(timezone.utc) - timedelta(hours=25)})
    r = _send(ws.api, cid, text="¿sigues ahí?")
    assert r.status_code == 409 and r.json()["error"]["code"] == "whatsapp_window_closed"
    r = _send(ws.api, cid, template={"contentSid": "HX" + "b" * 32, "variables": {"1": "Ana"}})
    assert r.status_code == 201 and r.json()["type"] == "template"
    # A new customer message reopens the window.
    post_signed(api, INBOUND, inbound_form(ws.number, CUSTOMER, "sí"))
    assert _send(ws.api, cid, text="¡genial!").status_code == 201


def test_rate_limit_60_messages_per_minute_per_user(api):
    ws = workspace(api, bot=False)
    cid = _conversation(api, ws)
    # The limit uses fixed one-minute windows: start the burst well inside one, never across two.
    left = 60 - time.time() % 60
    if left < 25:
        time.sleep(left + 0.5)
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda i: _send(ws.api, cid, text=f"m{i}").status_code, range(60)))
    assert codes == [201] * 60, codes
    r = _send(ws.api, cid, text="one too many")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    # Another user of the same workspace has their own budget.
    agent_api, _ = agent(ws, api)
    assert _send(agent_api, cid, text="mine").status_code == 201
