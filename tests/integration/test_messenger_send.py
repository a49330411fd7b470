"""Sending on Messenger through the sender (Pub/Sub push) to the fake Graph API: the Send API wire
format, the 24 h window and the HUMAN_AGENT tag, the text limit, retries on rate limits and
transient errors, permanent failures with Meta's codes, and delivery/read watermarks."""
from __future__ import annotations

import uuid
from urllib.parse import urlsplit
from datetime import datetime, timedelta, timezone

from messaging_support import agent, conversation_doc, messages, wait_for
from messenger_support import body, conv_id, message, notify, now_ms, page_channel, post, psid, watermark


def _conversation(api, graph, **settings):
    page, customer = page_channel(api, graph, **settings), psid()
    assert notify(api, page, message(customer, page.page_id, "hola")).status_code == 200
    return page, customer, conv_id(customer, page.page_id)


def _send(page, cid, expect: int = 201, api=None, **fields):
    r = (api or page.api).post("/api/v1/messages", json={"conversationId": cid, "messageId": str(uuid.uuid4()), **fields})
    assert r.status_code == expect, r.text
    return r


def _ref(page, cid, r):
    return conversation_doc(page.ws, cid).collection("messages").document(r.json()["id"])


def _done(ref, status="sent"):
    return wait_for(lambda: (d := ref.get().to_dict()) and d["status"] == status and d, timeout=30)


def _age(page, cid, **delta):
    conversation_doc(page.ws, cid).update({"lastInboundAt": datetime.now(timezone.utc) - timedelta(**delta)})


def test_an_agent_reply_reaches_the_send_api_as_a_response(api, graph):
    page, customer, cid = _conversation(api, graph)
    ref = _ref(page, cid, _send(page, cid, text="¡Hola! ¿En qué te ayudo?"))
    msg = _done(ref)
    [sent] = graph.sent_to(customer)
    assert sent["page"] == page.page_id and sent["body"] == {
        "recipient": {"id": customer}, "messaging_type": "RESPONSE", "message": {"text": "¡Hola! ¿En qué te ayudo?"}}
    assert msg["providerId"] == sent["message_id"] and msg["sentAt"] and "tag" not in msg["metadata"]["send"]


def test_after_24_hours_a_person_answers_with_the_human_agent_tag_when_the_workspace_allows_it(api, graph):
    page, customer, cid = _conversation(api, graph, messenger={"humanAgentTag": True})
    _age(page, cid, hours=30)
    ref = _ref(page, cid, _send(page, cid, text="Perdón la demora"))
    _done(ref)
    [sent] = graph.sent_to(customer)
    assert sent["body"]["messaging_type"] == "MESSAGE_TAG" and sent["body"]["tag"] == "HUMAN_AGENT"
    _age(page, cid, days=8)                      # past the tag's 7 days: nobody may write
    r = _send(page, cid, expect=409, text="¿Sigues ahí?")
    assert r.json()["error"]["code"] == "window_closed"
    assert len(graph.sent_to(customer)) == 1


def test_without_the_setting_the_window_closes_at_24_hours_before_anything_is_queued(api, graph):
    page, customer, cid = _conversation(api, graph)
    _age(page, cid, hours=25)
    before = len(messages(page.ws, cid))
    r = _send(page, cid, expect=409, text="hola de nuevo")
    assert r.json()["error"]["code"] == "window_closed" and r.json()["error"]["details"]["lastInboundAt"]
    assert len(messages(page.ws, cid)) == before and graph.sent_to(customer) == []


def test_messenger_content_rules_are_checked_at_the_api(api, graph):
    page, _, cid = _conversation(api, graph)
    for fields, code in (({"text": "x" * 2001}, "text_too_long"),
                         ({"location": {"latitude": 1, "longitude": 2}}, "unsupported_content"),
                         ({"template": {"contentSid": "HX" + "a" * 32}}, "unsupported_content")):
        assert _send(page, cid, expect=422, **fields).json()["error"]["code"] == code
    _done(_ref(page, cid, _send(page, cid, text="y" * 2000)))


def test_rate_limits_and_transient_errors_are_retried(api, graph):
    page, customer, cid = _conversation(api, graph)
    graph.fail_next(code=613, message="(#613) Calls to this api have exceeded the rate limit.")
    graph.fail_next(status=500, code=2, message="Service temporarily unavailable")
    graph.fail_next(delay=3.0, code=2)           # answers after the client's 2 s timeout (test stack)
    ref = _ref(page, cid, _send(page, cid, text="reintento"))
    msg = _done(ref)
    [sent] = graph.sent_to(customer)
    assert msg["providerId"] == sent["message_id"] and graph.count("POST", "/messages") == 4


def test_permanent_failures_are_recorded_with_meta_s_code(api, graph):
    page, customer, cid = _conversation(api, graph)
    for code, subcode, label in ((551, None, "551"), (10, 2018278, "10/2018278"), (190, None, "190")):
        graph.fail_next(code=code, subcode=subcode, message=f"(#{code}) refused")
        ref = _ref(page, cid, _send(page, cid, text=f"fallará {label}"))
        msg = _done(ref, "failed")
        assert msg["errorCode"] == label and "refused" in msg["errorMessage"]
    assert graph.sent_to(customer) == [] and graph.count("POST", "/messages") == 3    # none retried


def test_delivery_and_read_watermarks_move_outbound_messages_forward_only(api, graph):
    page, customer, cid = _conversation(api, graph)
    refs = [_ref(page, cid, _send(page, cid, text=f"m{i}")) for i in range(3)]
    for ref in refs:
        _done(ref)
    # Seconds apart (a burst of sends lands within the watermark's 1 s slack of each other).
    base = datetime.now(timezone.utc) - timedelta(seconds=30)
    sent_at = [base + timedelta(seconds=10 * i) for i in range(3)]
    for ref, at in zip(refs, sent_at):
        ref.update({"sentAt": at})
    middle = int(sent_at[1].timestamp() * 1000)
    signed = lambda *items: notify(api, page, *items)  # noqa: E731

    assert signed(watermark(customer, page.page_id, "delivery", middle)).status_code == 200
    assert [r.get().get("status") for r in refs] == ["delivered", "delivered", "sent"]
    assert signed(watermark(customer, page.page_id, "read", int(sent_at[0].timestamp() * 1000))).status_code == 200
    assert [r.get().get("status") for r in refs] == ["read", "delivered", "sent"]
    # An older delivery watermark (out of order) moves nothing back.
    assert signed(watermark(customer, page.page_id, "delivery", middle - 60_000)).status_code == 200
    assert [r.get().get("status") for r in refs] == ["read", "delivered", "sent"]
    assert signed(watermark(customer, page.page_id, "read", now_ms())).status_code == 200
    assert [r.get().get("status") for r in refs] == ["read"] * 3
    inbound = [m for m in messages(page.ws, cid) if m["direction"] == "inbound"]
    assert [m["status"] for m in inbound] == ["received"]


def test_the_watermark_query_reads_only_what_it_moves(api):
    """A long conversation: a watermark's query reads the messages still awaiting it, not the rest."""
    from utalk.repositories.messages import MessageRepository

    page, customer = page_channel(api), psid()
    cid = conv_id(customer, page.page_id)
    assert notify(api, page, message(customer, page.page_id, "hola")).status_code == 200
    col = conversation_doc(page.ws, cid).collection("messages")
    at = datetime.now(timezone.utc) - timedelta(minutes=5)
    for i in range(30):   # read long ago
        col.document(f"msg_old{i}").set({"id": f"msg_old{i}", "direction": "outbound", "status": "read",
                                         "sentAt": at - timedelta(seconds=i)})
    col.document("msg_new").set({"id": "msg_new", "direction": "outbound", "status": "sent", "sentAt": at})
    assert [m["id"] for m in MessageRepository(page.ws).awaiting(cid, "read", datetime.now(timezone.utc), 100)] == [
        "msg_new"]
    assert post(api, body((page.page_id, [watermark(customer, page.page_id, "read", now_ms())])),
                page.app_secret).status_code == 200
    assert col.document("msg_new").get().get("status") == "read"


def test_an_agent_assigned_elsewhere_still_cannot_write(api, graph):
    page, _, cid = _conversation(api, graph)
    agent_api, _ = agent(page, api)
    conversation_doc(page.ws, cid).update({"assignedAgent": "someone-else"})
    assert _send(page, cid, expect=403, api=agent_api, text="hola").json()["error"]["code"] == "not_assigned"


def test_an_attachment_goes_by_url_as_its_kind(api, graph):
    page, customer, cid = _conversation(api, graph)
    photo = graph.add_media("p.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 16, "image/png")
    item = message(customer, page.page_id, None, attachments=[{"type": "image", "payload": {"url": photo}}])
    assert notify(api, page, item).status_code == 200
    media_id = next(m["mediaId"] for m in messages(page.ws, cid) if m.get("mediaId"))
    assert _send(page, cid, expect=422, mediaId=media_id, text="y el texto").json()["error"]["code"] == "text_with_media"
    _done(_ref(page, cid, _send(page, cid, mediaId=media_id)))
    [sent] = graph.sent_to(customer)
    attachment = sent["body"]["message"]["attachment"]
    assert attachment["type"] == "image" and attachment["payload"]["is_reusable"] is False
    # a signed Cloud Storage URL Meta can fetch without credentials, of the stored object
    url = urlsplit(attachment["payload"]["url"])
    assert url.path.endswith(".png") and "X-Goog-Signature=" in url.query
