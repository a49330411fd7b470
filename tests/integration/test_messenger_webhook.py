"""Messenger webhook (`GET`/`POST /webhooks/messenger`) through the gateway against the emulators:
the subscription handshake, X-Hub-Signature-256 over the raw body, routing by Page, batched
entries, retries stored once, echoes, postbacks and quick replies, attachments, the profile name."""
from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor

from messaging_support import conversation_doc, db, messages, wait_for
from messenger_support import WEBHOOK, body, conv_id, echo, message, notify, page_channel, post, psid, sign

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def handshake(api, token: str, mode: str = "subscribe", challenge: str = "1158201444"):
    return api.get(WEBHOOK, params={"hub.mode": mode, "hub.verify_token": token, "hub.challenge": challenge})


def test_handshake_answers_while_an_active_channel_holds_the_verify_token(api, graph):
    page = page_channel(api, graph)
    r = handshake(api, page.verify_token)
    assert r.status_code == 200 and r.text == "1158201444"
    for refused in (handshake(api, page.verify_token + "x"), handshake(api, page.verify_token, mode="unsubscribe"),
                    handshake(api, page.verify_token, challenge="<script>"), api.get(WEBHOOK)):
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "invalid_verify_token"

    ch = page.channel["id"]
    assert page.api.patch(f"/api/v1/channels/{ch}", json={"status": "disabled"}).status_code == 200
    assert handshake(api, page.verify_token).status_code == 403
    assert page.api.patch(f"/api/v1/channels/{ch}", json={"status": "active"}).status_code == 200
    assert handshake(api, page.verify_token).status_code == 200
    r = page.api.put(f"/api/v1/channels/{ch}/credentials", json={"verifyToken": "fresh-verify-token-0000000"})
    assert r.status_code == 200, r.text
    assert r.json()["credentials"]["verifyToken"]["set"] is True and "fresh-verify" not in r.text
    assert handshake(api, page.verify_token).status_code == 403
    assert handshake(api, "fresh-verify-token-0000000").status_code == 200
    assert page.api.delete(f"/api/v1/channels/{ch}").status_code == 204
    assert handshake(api, "fresh-verify-token-0000000").status_code == 403


def test_the_signature_is_over_the_raw_body_and_nothing_unsigned_is_stored(api):
    page, customer = page_channel(api), psid()
    # Meta signs the bytes it sends (escaped unicode, its own spacing): a re-serialisation differs.
    raw = ('{"object":"page","entry":[{"id":"%s","time":1,"messaging":[{"sender":{"id":"%s"},'
           '"recipient":{"id":"%s"},"timestamp":1,"message":{"mid":"m_raw1","text":"se\\u00f1or  caf\\u00e9 \\ud83d\\ude00"}}]}]}'
           % (page.page_id, customer, page.page_id)).encode()
    reserialised = json.dumps(json.loads(raw)).encode()
    assert reserialised != raw
    doc = conversation_doc(page.ws, conv_id(customer, page.page_id))
    for signature in (sign(reserialised, page.app_secret), sign(raw, "another-app-secret-0000"),
                      "sha256=" + "0" * 64, "", "md5=abc"):
        r = post(api, raw, None, signature=signature)
        assert r.status_code == 403 and r.json()["error"]["code"] == "invalid_signature", signature
    assert post(api, raw, None).status_code == 403                      # no header at all
    assert post(api, raw.replace(b"caf", b"cof"), None, signature=sign(raw, page.app_secret)).status_code == 403
    assert not doc.get().exists

    r = post(api, raw, page.app_secret)
    assert r.status_code == 200 and r.text == "EVENT_RECEIVED"
    [stored] = messages(page.ws, doc.id)
    assert stored["text"] == "señor  café 😀" and stored["providerId"] == "m_raw1"


def test_unknown_pages_and_bad_bodies(api):
    page = page_channel(api)
    stranger = body(("999999999999999", [message(psid(), "999999999999999")]))
    r = post(api, stranger, page.app_secret)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_channel"
    assert post(api, b"not json", None, signature=sign(b"not json", page.app_secret)).status_code == 400
    assert post(api, {"object": "page"}, page.app_secret).status_code == 400
    assert post(api, {"object": "instagram", "entry": []}, page.app_secret).status_code == 200   # not ours


def test_batched_entries_are_each_handled_and_a_bad_item_loses_nothing(api):
    page = page_channel(api)
    second = page.api.post("/api/v1/channels", json={"type": "facebook", "name": "Outlet", "pageId": "123450000000002",
                                                     "provider": "sandbox"})
    assert second.status_code == 201, second.text
    a, b, c = psid(), psid(), psid()
    broken = {"sender": {}, "recipient": {"id": page.page_id}, "timestamp": 1, "message": {"text": "x"}}
    payload = body((page.page_id, [message(a, page.page_id, "uno"), broken, message(b, page.page_id, "dos")]),
                   ("123450000000002", [message(c, "123450000000002", "tres"),
                                        {"sender": {"id": c}, "recipient": {"id": "123450000000002"},
                                         "timestamp": 1, "reaction": {"mid": "m_x", "action": "react"}}]),
                   ("999999999999999", [message(a, "999999999999999", "ajena")]))
    r = post(api, payload, page.app_secret)
    assert r.status_code == 200, r.text
    assert [m["text"] for m in messages(page.ws, conv_id(a, page.page_id))] == ["uno"]
    assert [m["text"] for m in messages(page.ws, conv_id(b, page.page_id))] == ["dos"]
    [tres] = messages(page.ws, conv_id(c, "123450000000002"))
    assert tres["text"] == "tres"
    conv = conversation_doc(page.ws, conv_id(c, "123450000000002")).get().to_dict()
    assert conv["channel"] == "facebook" and conv["channelId"] == second.json()["id"]
    assert conv["participants"] == [f"fb:{c}", "fb:123450000000002"] and conv["status"] == "open"


def test_retried_notifications_are_stored_once(api):
    page, customer = page_channel(api), psid()
    payload = body((page.page_id, [message(customer, page.page_id, "hola", mid="m_retry1")]))
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: post(api, payload, page.app_secret).status_code, range(8)))
    assert codes == [200] * 8
    conv = conversation_doc(page.ws, conv_id(customer, page.page_id)).get().to_dict()
    assert len(messages(page.ws, conv["id"])) == 1 and conv["messageCount"] == 1 and conv["unreadCount"] == 1


def test_our_echoes_are_skipped_and_page_inbox_answers_are_stored_as_the_page(api):
    page, customer = page_channel(api), psid()
    cid = conv_id(customer, page.page_id)
    assert notify(api, page, message(customer, page.page_id, "hola")).status_code == 200
    ours = echo(customer, page.page_id, page.app_id, "del bot")
    inbox = echo(customer, page.page_id, "263902037430900", "soy Ana, de la tienda")   # Meta's Page Inbox app
    assert notify(api, page, ours, inbox).status_code == 200
    stored = {m["text"]: m for m in messages(page.ws, cid)}
    assert set(stored) == {"hola", "soy Ana, de la tienda"}
    human = stored["soy Ana, de la tienda"]
    assert human["direction"] == "outbound" and human["senderType"] == "agent" and human["status"] == "sent"
    assert human["sender"] == f"fb:{page.page_id}" and human["metadata"]["echo"] == {"appId": "263902037430900"}
    assert human["sentAt"] and human["providerId"] == inbox["message"]["mid"]
    conv = conversation_doc(page.ws, cid).get().to_dict()
    assert conv["messageCount"] == 2 and conv["unreadCount"] == 1 and conv["lastMessage"]["direction"] == "outbound"


def test_postbacks_quick_replies_replies_and_locations_are_kept(api):
    page, customer = page_channel(api), psid()
    quick = message(customer, page.page_id, "Rojo", quick_reply={"payload": "COLOR_RED"}, reply_to={"mid": "m_prev"})
    button = {"sender": {"id": customer}, "recipient": {"id": page.page_id}, "timestamp": 1700000000123,
              "postback": {"mid": "m_pb1", "title": "Hablar con un asesor", "payload": "HUMAN_PLEASE"}}
    legacy = {"sender": {"id": customer}, "recipient": {"id": page.page_id}, "timestamp": 1700000000456,
              "postback": {"title": "Empezar", "payload": "GET_STARTED"}}
    place = message(customer, page.page_id, None, attachments=[
        {"type": "location", "title": "Zócalo", "payload": {"coordinates": {"lat": 19.4326, "long": -99.1332}}},
        {"type": "fallback", "title": "Un enlace", "url": "https://example.com/shared", "payload": None}])
    assert notify(api, page, quick, button, legacy, place).status_code == 200
    stored = {m["providerId"]: m for m in messages(page.ws, conv_id(customer, page.page_id))}
    q = stored[quick["message"]["mid"]]
    assert q["text"] == "Rojo" and q["metadata"]["quickReply"] == {"payload": "COLOR_RED"}
    assert q["metadata"]["replyTo"] == "m_prev"
    pb = stored["m_pb1"]
    assert pb["text"] == "Hablar con un asesor" and pb["metadata"]["postback"] == {
        "payload": "HUMAN_PLEASE", "title": "Hablar con un asesor"}
    assert stored[f"postback:{customer}:1700000000456"]["metadata"]["postback"]["payload"] == "GET_STARTED"
    loc = stored[place["message"]["mid"]]
    assert loc["type"] == "location" and loc["location"] == {"latitude": 19.4326, "longitude": -99.1332,
                                                             "label": "Zócalo"}
    assert loc["metadata"]["attachments"] == [{"type": "fallback", "title": "Un enlace",
                                               "url": "https://example.com/shared"}]


def test_attachments_are_downloaded_at_once_from_meta_s_cdn_only(api, graph):
    page, customer = page_channel(api, graph), psid()
    image = graph.add_media("photo.png", PNG, "image/png")
    voice = graph.add_media("clip.mp4", b"\x00\x00\x00\x18ftypmp42", "audio/mp4")
    item = message(customer, page.page_id, None, attachments=[
        {"type": "image", "payload": {"url": image}}, {"type": "audio", "payload": {"url": voice}},
        {"type": "file", "payload": {"url": "https://evil.example.com/x.pdf"}},
        {"type": "image", "payload": {"url": "https://fbcdn.net.evil.example.com/x.png"}}])
    assert notify(api, page, item).status_code == 200
    [msg] = messages(page.ws, conv_id(customer, page.page_id))
    assert msg["type"] == "image" and len(msg["metadata"]["mediaIds"]) == 2
    assert [e["code"] for e in msg["metadata"]["mediaErrors"]] == ["media_host_not_allowed"] * 2
    from utalk import clients
    from utalk.config import settings
    media = db().collection("workspaces").document(page.ws).collection("media").document(msg["mediaId"]).get().to_dict()
    assert media["contentType"] == "image/png" and media["source"]["provider"] == "messenger"
    assert clients.storage().bucket(settings().bucket).blob(media["path"]).download_as_bytes() == PNG


def test_the_customer_s_name_comes_from_the_profile_api_once(api, graph):
    page, customer, unnamed = page_channel(api, graph), psid(), psid()
    graph.add_profile(page.page_id, customer, "Ana", "López")
    for text in ("hola", "¿siguen ahí?", "gracias"):
        assert notify(api, page, message(customer, page.page_id, text)).status_code == 200
    conv = conversation_doc(page.ws, conv_id(customer, page.page_id)).get().to_dict()
    assert conv["customer"] == {"address": f"fb:{customer}", "name": "Ana López", "nameKey": "ana lopez"} and conv["messageCount"] == 3
    assert graph.count("GET", f"/{customer}") == 1          # new conversations only; cached after that
    # A profile the page token may not read: the conversation is stored without a name.
    assert notify(api, page, message(unnamed, page.page_id, "hey")).status_code == 200
    assert conversation_doc(page.ws, conv_id(unnamed, page.page_id)).get().to_dict()["customer"] == {
        "address": f"fb:{unnamed}"}


def test_a_stored_message_is_announced_for_the_bot_once_per_delivery(api):
    """The bot sees Messenger messages like any other: `message-received` feeds its dispatch."""
    page = page_channel(api, bot=True)
    customer = psid()
    assert post(api, body((page.page_id, [message(customer, page.page_id, "¿a qué hora abren?")])),
                page.app_secret).status_code == 200
    cid = conv_id(customer, page.page_id)
    reply = wait_for(lambda: [m for m in messages(page.ws, cid) if m["senderType"] == "bot"])
    assert reply[0]["direction"] == "outbound" and "horario" in reply[0]["text"]
