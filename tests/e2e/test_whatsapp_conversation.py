"""A whole WhatsApp conversation, offline: a customer sends an album, an agent reads and answers,
the sandbox delivers and reports back, the agent closes the conversation."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from messaging_support import INBOUND, agent, conv_id, conversation_doc, inbound_form, post_signed, wait_for, workspace

CUSTOMER = "+5215598765432"


def test_customer_album_agent_reply_and_close(api, twilio):
    ws = workspace(api, twilio=twilio, bot=False)
    agent_api, agent_id = agent(ws, api)
    urls = [twilio.add_media(f"ME{i:032d}", b"\x89PNG" + bytes([i]), "image/png") for i in range(4)]
    forms = [inbound_form(ws.number, CUSTOMER, body="", NumMedia="1", MediaUrl0=u, MediaContentType0="image/png")
             for u in urls] + [inbound_form(ws.number, CUSTOMER, "¿Tienen estas en talla M?")]
    with ThreadPoolExecutor(len(forms)) as pool:  # an album arrives as simultaneous webhooks
        assert set(pool.map(lambda f: post_signed(api, INBOUND, f).status_code, forms)) == {200}

    cid = conv_id(CUSTOMER, ws.number)
    [listed] = agent_api.get("/api/v1/conversations", params={"status": "open"}).json()["items"]
    assert listed["id"] == cid and listed["unreadCount"] == 5 and listed["customer"]["name"] == "Cliente"
    history = agent_api.get(f"/api/v1/conversations/{cid}/messages").json()["items"]
    assert sorted(m["type"] for m in history) == ["image"] * 4 + ["text"]
    assert agent_api.post(f"/api/v1/conversations/{cid}/read").json()["unreadCount"] == 0

    reply = agent_api.post("/api/v1/messages", json={"conversationId": cid, "messageId": str(uuid.uuid4()),
                                                     "text": "¡Sí! Te aparto la talla M."})
    assert reply.status_code == 201, reply.text
    ref = conversation_doc(ws.id, cid).collection("messages").document(reply.json()["id"])
    sid = wait_for(lambda: (ref.get().to_dict() or {}).get("providerId"))
    [sent] = [m for m in twilio.sent if m["sid"] == sid]
    assert sent["Body"] == "¡Sí! Te aparto la talla M." and sent["To"] == f"whatsapp:{CUSTOMER}"

    # Twilio reports back (signed, to the URL the sender gave it).
    from urllib.parse import urlsplit
    parts = urlsplit(sent["StatusCallback"])
    for status in ("sent", "delivered", "read"):
        r = post_signed(api, parts.path + "?" + parts.query, {"MessageSid": sid, "MessageStatus": status})
        assert r.status_code == 200
    assert ref.get().get("status") == "read"
    last = agent_api.get(f"/api/v1/conversations/{cid}/messages", params={"limit": 1}).json()["items"][0]
    assert last["id"] == ref.id and last["status"] == "read" and last["senderId"] == agent_id

    assert agent_api.post(f"/api/v1/conversations/{cid}/status", json={"status": "closed"}).json()["status"] == "closed"
    assert agent_api.get("/api/v1/conversations", params={"status": "open"}).json()["items"] == []
