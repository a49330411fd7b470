"""The web chat's visitor API over HTTP through the gateway: web channels made by admins, visitor
sessions (anonymous, resumed, identified by the host site's HMAC), tokens that never cross with
agents', messages stored once per client id through the inbound pipeline, history pages, CORS
for the channel's own sites only, and the per-IP and per-visitor limits."""
from __future__ import annotations

import re
import uuid

import pytest
from bot_support import conversation, new_agents, outbound
from messaging_support import messages, wait_for
from realtime_support import RealtimeReader
from webchat_support import SHOP, Visitor, identifier_hash, open_session, web_channel

from utalk import limits


def test_an_admin_creates_a_web_channel_with_a_public_key_and_write_only_identity_secret(api):
    chat = web_channel(api, identity=True)
    ch = chat.channel
    assert ch["type"] == "web" and ch["provider"] == "web"
    assert re.fullmatch(r"wk_[0-9a-f]{32}", ch["channelKey"]) and ch["address"] == ch["channelKey"]
    assert ch["allowedOrigins"] == ["http://localhost:8000", SHOP]
    assert ch["widget"]["title"] == "Tienda Luna" and ch["widget"]["placeholder"]
    assert ch["credentials"]["identitySecret"]["set"] is True
    shown = chat.api.get(f"/api/v1/channels/{ch['id']}").json()
    assert "identitySecret" not in str({k: v for k, v in shown.items() if k != "credentials"})
    assert web_channel(api).channel["credentials"]["identitySecret"]["set"] is False

    bad = [{"type": "web", "name": "x"},                                             # no origins
           {"type": "web", "name": "x", "allowedOrigins": ["https://shop.example.com/path"]},
           {"type": "web", "name": "x", "allowedOrigins": [SHOP], "phoneNumber": "+14155238886"},
           {"type": "web", "name": "x", "allowedOrigins": [SHOP], "credentials": {"authToken": "a" * 20}},
           {"type": "whatsapp", "name": "x", "phoneNumber": "+14155238886", "allowedOrigins": [SHOP]}]
    for body in bad:
        r = chat.api.post("/api/v1/channels", json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["code"]

    r = chat.api.patch(f"/api/v1/channels/{ch['id']}", json={"allowedOrigins": ["https://other.example.com"]})
    assert r.status_code == 200 and r.json()["allowedOrigins"] == ["https://other.example.com"]


def test_anonymous_sessions_are_random_visitors_with_their_own_conversation(api):
    chat = web_channel(api)
    a, b = Visitor.open(api, chat), Visitor.open(api, chat)
    assert re.fullmatch(r"v[0-9a-f]{32}", a.session["visitorId"])
    assert a.session["visitorId"] != b.session["visitorId"]
    assert a.conversation_id == f"conv_web:{a.session['visitorId']}_web:{chat.key}"
    assert a.session["widget"]["title"] == "Tienda Luna" and a.session["identified"] is False

    r = open_session(api, chat, {"refreshToken": a.session["refreshToken"]})
    assert r.status_code == 201 and r.json()["resumed"] is True
    assert r.json()["visitorId"] == a.session["visitorId"]
    for body in ({"refreshToken": a.session["token"]}, {"refreshToken": "x.y.z"}):   # an access token is no refresh
        r = open_session(api, chat, body)
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    other = web_channel(api)
    r = open_session(api, other, {"refreshToken": a.session["refreshToken"]})
    assert r.status_code == 401
    r = api.post("/api/v1/webchat/wk_" + "0" * 32 + "/sessions", json={})
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_channel"


def test_visitor_tokens_and_agent_tokens_never_cross(api):
    chat = web_channel(api)
    visitor = Visitor.open(api, chat)
    for path in ("/api/v1/conversations", "/api/v1/auth/me"):
        r = api.get(path, headers={"Authorization": f"Bearer {visitor.session['token']}"})
        assert r.status_code == 401, r.text
    r = api.post("/api/v1/messages", headers={"Authorization": f"Bearer {visitor.session['token']}"},
                 json={"conversationId": visitor.conversation_id, "messageId": str(uuid.uuid4()), "text": "x"})
    assert r.status_code == 401
    r = api.post(chat.path("messages"), headers={"Authorization": f"Bearer {chat.api.token}", "Origin": SHOP},
                 json={"messageId": str(uuid.uuid4()), "text": "hola"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    r = api.post(chat.path("messages"), headers={"Origin": SHOP}, json={"messageId": str(uuid.uuid4()), "text": "x"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "missing_token"
    other = web_channel(api)     # one chat's visitor is nobody in another
    r = api.post(other.path("messages"), headers={**visitor.headers()}, json={"messageId": str(uuid.uuid4()),
                                                                              "text": "x"})
    assert r.status_code == 403 or r.status_code == 401


def test_a_message_is_stored_once_per_client_id_and_paged_in_history(api):
    chat = web_channel(api)
    visitor = Visitor.open(api, chat)
    mid = str(uuid.uuid4())
    first, again = visitor.say("hola, ¿tienen envíos?", mid), visitor.say("hola, ¿tienen envíos?", mid)
    assert first.status_code == 201 and again.status_code == 200, (first.text, again.text)
    assert first.json()["id"] == again.json()["id"]
    stored = messages(chat.ws, visitor.conversation_id)
    assert len(stored) == 1 and stored[0]["sender"] == f"web:{visitor.session['visitorId']}"
    conv = conversation(chat.ws, visitor.conversation_id)
    assert conv["channel"] == "web" and conv["channelId"] == chat.channel["id"] and conv["status"] == "open"
    for text in ("dos", "tres"):
        assert visitor.say(text).status_code == 201
    page = visitor.history(limit=2)
    assert page.status_code == 200, page.text
    assert [m["text"] for m in page.json()["items"]] == ["tres", "dos"]
    assert page.json()["items"][0]["senderType"] == "customer" and page.json()["status"] == "open"
    rest = visitor.history(limit=2, cursor=page.json()["nextCursor"]).json()
    assert [m["text"] for m in rest["items"]] == ["hola, ¿tienen envíos?"] and rest["nextCursor"] is None
    assert rest["items"][0]["messageId"] == mid
    assert set(page.json()["items"][0]) == {"id", "messageId", "type", "text", "direction", "senderType", "status",
                                            "createdAt"}
    assert Visitor.open(api, chat).history().json()["items"] == []     # another visitor sees nothing of it
    for body in ({"messageId": "not-a-uuid", "text": "x"}, {"messageId": str(uuid.uuid4()), "text": "  "},
                 {"messageId": str(uuid.uuid4()), "text": "x" * 5000}, {"messageId": str(uuid.uuid4())}):
        r = api.post(chat.path("messages"), headers=visitor.headers(), json=body)
        assert r.status_code == 422, r.text
    assert visitor.history(cursor="garbage").status_code == 400


def test_identified_visitors_share_their_conversation_across_devices_only_with_a_valid_hash(api):
    chat = web_channel(api, identity=True)
    who = {"identifier": "cliente-42", "identifierHash": identifier_hash("cliente-42")}
    laptop, phone = Visitor.open(api, chat, who), Visitor.open(api, chat, who)
    assert laptop.session["identified"] is True and re.fullmatch(r"u[0-9a-f]{32}", laptop.session["visitorId"])
    assert laptop.conversation_id == phone.conversation_id
    assert laptop.say("pedido 1234").status_code == 201
    assert [m["text"] for m in phone.history().json()["items"]] == ["pedido 1234"]

    forged = {"identifier": "cliente-42", "identifierHash": identifier_hash("cliente-42", "x" * 32)}
    r = open_session(api, chat, forged)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_identity"
    r = open_session(api, chat, {"identifier": "cliente-42"})
    assert r.status_code == 422
    r = open_session(api, web_channel(api), who)      # a chat without an identity secret verifies nobody
    assert r.status_code == 422 and r.json()["error"]["code"] == "identity_not_enabled"


def test_cors_answers_only_the_channel_s_own_sites(api):
    chat = web_channel(api)
    preflight = {"Origin": SHOP, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"}
    r = api.request("OPTIONS", chat.path("messages"), headers=preflight)
    assert r.status_code == 204 and r.headers["Access-Control-Allow-Origin"] == SHOP
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
    r = api.request("OPTIONS", chat.path("messages"), headers={**preflight, "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in r.headers
    r = api.request("OPTIONS", "/api/v1/conversations", headers=preflight)   # agents' API: not the shop's
    assert "Access-Control-Allow-Origin" not in r.headers

    r = open_session(api, chat)
    assert r.headers["Access-Control-Allow-Origin"] == SHOP
    r = open_session(api, chat, origin="https://evil.example")
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in r.headers
    visitor = Visitor.open(api, chat)
    visitor.origin = "https://evil.example"
    assert visitor.say("hola").status_code == 403


def _refused_after(limit, send):
    """How many `send()`s passed before the first 429, and that answer. Windows are aligned to the
    clock, so a burst that spans a window's end passes up to twice the limit: bounded at that."""
    for passed in range(2 * limit.limit + 1):
        r = send()
        if r.status_code == 429:
            assert limit.limit <= passed <= 2 * limit.limit, passed
            assert int(r.headers["Retry-After"]) > 0 and r.json()["error"]["code"] == "rate_limited"
            assert r.json()["error"]["details"]["limit"] == limit.name
            return passed
        assert r.status_code in (201, 200), r.text
    raise AssertionError(f"{limit.name}: never refused")


def test_new_visitors_per_ip_and_requests_per_visitor_are_limited_with_retry_after(api):
    chat = web_channel(api)
    _refused_after(limits.WEBCHAT_NEW_VISITORS, lambda: open_session(api, chat, **{"X-Forwarded-For": "203.0.113.7"}))
    assert open_session(api, chat, **{"X-Forwarded-For": "203.0.113.8"}).status_code == 201   # another address

    visitor = Visitor.open(api, chat)
    _refused_after(limits.WEBCHAT_MESSAGES, lambda: visitor.say("hola"))
    assert Visitor.open(api, chat).say("otro visitante").status_code == 201
    # A message id sent again is stored once (200), and still counted: resending is limited too.
    again, same = Visitor.open(api, chat, **{"X-Forwarded-For": "203.0.113.20"}), str(uuid.uuid4())
    _refused_after(limits.WEBCHAT_MESSAGES, lambda: again.say("hola", same))

    # Per visitor, never per address (limits.BY_VISITOR): colleagues behind one office address send
    # more between them than an address's `ip` allowance, each under its own limit; a visitor's other
    # routes count against `visitor`, and a colleague's are its own.
    office = {"X-Forwarded-For": "198.51.100.9"}
    colleagues = [Visitor.open(api, chat) for _ in range(4)]
    for colleague in colleagues:
        for _ in range(limits.IP.limit // len(colleagues) + 1):
            r = api.post(chat.path("messages"), headers={**colleague.headers(), **office},
                         json={"messageId": str(uuid.uuid4()), "text": "hola"})
            assert r.status_code == 201, r.text
    _refused_after(limits.VISITOR, lambda: api.get(chat.path("messages"), headers={**colleagues[0].headers(), **office}))
    assert api.get(chat.path("messages"), headers={**colleagues[1].headers(), **office}).status_code == 200


def test_typing_reaches_the_agents_room_and_read_marks_replies_read(api):
    chat = web_channel(api)
    (agent_api, agent_id), = new_agents(api, chat, 1)
    visitor = Visitor.open(api, chat)
    assert visitor.say("hola").status_code == 201
    reader = RealtimeReader()
    try:
        r = api.post(chat.path("typing"), headers=visitor.headers(), json={"typing": True})
        assert r.status_code == 204, r.text
        [typing] = wait_for(lambda: [e for e in reader.pull() if e["event"] == "typing:start"])
        assert typing["payload"] == {"conversationId": visitor.conversation_id,
                                     "userId": f"web:{visitor.session['visitorId']}"}
        assert typing["attributes"]["audience"] == "conversation"
    finally:
        reader.close()
    r = chat.api.post(f"/api/v1/conversations/{visitor.conversation_id}/assign", json={"agentId": agent_id})
    assert r.status_code == 200, r.text
    r = agent_api.post("/api/v1/messages", json={"conversationId": visitor.conversation_id,
                                                 "messageId": str(uuid.uuid4()), "text": "Hola, soy Ana"})
    assert r.status_code == 201, r.text
    wait_for(lambda: [m for m in outbound(chat.ws, visitor.conversation_id, "agent") if m["status"] == "sent"])
    shown = visitor.history().json()
    assert shown["agent"] == {"id": agent_id, "name": "Agente"}
    assert [m["senderType"] for m in shown["items"]] == ["agent", "customer"]
    assert shown["read"] is False                                      # read receipts: not yet read
    assert agent_api.post(f"/api/v1/conversations/{visitor.conversation_id}/read").status_code == 200
    assert visitor.history().json()["read"] is True
    assert visitor.say("¿sigues ahí?").status_code == 201
    assert visitor.history().json()["read"] is False                   # a newer message is unread again
    r = api.post(chat.path("read"), headers=visitor.headers())
    assert r.status_code == 200 and r.json()["read"] == 1
    assert outbound(chat.ws, visitor.conversation_id, "agent")[0]["status"] == "read"


@pytest.mark.parametrize("text", ["¿a qué hora abren?"])
def test_the_bot_answers_a_visitor_as_on_every_channel(api, text):
    chat = web_channel(api, bot=True)
    visitor = Visitor.open(api, chat)
    assert visitor.say(text).status_code == 201
    [answer] = wait_for(lambda: [m for m in outbound(chat.ws, visitor.conversation_id) if m["status"] == "sent"])
    assert "horario" in answer["text"]
    assert [m["senderType"] for m in visitor.history().json()["items"]] == ["bot", "customer"]
