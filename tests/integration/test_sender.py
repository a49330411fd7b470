"""The sender through the official twilio client against the fake Twilio API: once-only sends
under duplicate Pub/Sub deliveries, retries with backoff, permanent failures, templates, location."""
from __future__ import annotations

import time
import uuid
from urllib.parse import urlsplit
from datetime import datetime, timedelta, timezone

from messaging_support import INBOUND, conv_id, conversation_doc, inbound_form, post_signed, wait_for, workspace

CUSTOMER = "+5215512345678"


def _setup(api, twilio):
    ws = workspace(api, twilio=twilio, bot=False)
    assert post_signed(api, INBOUND, inbound_form(ws.number, CUSTOMER)).status_code == 200
    return ws, conv_id(CUSTOMER, ws.number)


def sent_for(twilio, ref) -> list[dict]:
    """What the fake Twilio received for one message (the bot may send its own replies too)."""
    return [m for m in list(twilio.sent) if f"msg={ref.id}&" in m.get("StatusCallback", "")]


def _send(ws, cid, **body):
    r = ws.api.post("/api/v1/messages", json={"conversationId": cid, "messageId": str(uuid.uuid4()), **body})
    assert r.status_code == 201, r.text
    return conversation_doc(ws.id, cid).collection("messages").document(r.json()["id"])


def test_send_records_sid_and_uses_twilio_wire_format(api, twilio):
    ws, cid = _setup(api, twilio)
    ref = _send(ws, cid, text="hola desde Twilio")
    msg = wait_for(lambda: (d := ref.get().to_dict()) and d.get("providerId") and d)
    [sent] = sent_for(twilio, ref)
    assert msg["providerId"] == sent["sid"] and msg["status"] == "sending"
    assert sent["To"] == f"whatsapp:{CUSTOMER}" and sent["From"] == f"whatsapp:{ws.number}"
    assert sent["Body"] == "hola desde Twilio"
    assert "/webhooks/twilio/status?" in sent["StatusCallback"] and f"msg={msg['id']}" in sent["StatusCallback"]


def test_duplicate_pubsub_deliveries_send_once(api, twilio):
    from utalk import pubsub
    ws, cid = _setup(api, twilio)
    ref = _send(ws, cid, text="solo una vez")
    for _ in range(3):  # the same outbound message delivered again (at-least-once delivery)
        pubsub.publish("message-outbound", {}, workspaceId=ws.id, conversationId=cid, messageId=ref.id).result()
    wait_for(lambda: (ref.get().to_dict() or {}).get("providerId"))
    time.sleep(1.5)  # give the duplicates time to arrive; they must not send
    assert len(sent_for(twilio, ref)) == 1


def test_transient_failures_are_retried(api, twilio):
    twilio.fail_next(503, times=2)
    twilio.fail_next(429, times=1, code=20429, message="Too Many Requests")
    ws, cid = _setup(api, twilio)
    ref = _send(ws, cid, text="reintento")
    msg = wait_for(lambda: (d := ref.get().to_dict()) and d.get("providerId") and d, timeout=30)
    assert msg["status"] == "sending" and len(sent_for(twilio, ref)) == 1


def test_permanent_failure_marks_failed_with_reason(api, twilio):
    twilio.fail_next(400, code=63016, message="Outside the allowed window")
    ws, cid = _setup(api, twilio)
    ref = _send(ws, cid, text="fallará")
    msg = wait_for(lambda: (d := ref.get().to_dict()) and d["status"] == "failed" and d)
    assert msg["errorCode"] == "63016" and "window" in msg["errorMessage"] and sent_for(twilio, ref) == []


def test_retries_exhausted_marks_failed(api, twilio):
    twilio.fail_next(500, times=4)
    ws, cid = _setup(api, twilio)
    ref = _send(ws, cid, text="nunca")
    msg = wait_for(lambda: (d := ref.get().to_dict()) and d["status"] == "failed" and d, timeout=30)
    assert msg["errorCode"] == "20500" and sent_for(twilio, ref) == []


def test_template_outside_window_and_location(api, twilio):
    ws, cid = _setup(api, twilio)
    conversation_doc(ws.id, cid).update({"lastInboundAt": datetime.now(timezone.utc) - timedelta(days=2)})
    ref = _send(ws, cid, template={"contentSid": "HX" + "c" * 32, "variables": {"1": "Ana"}})
    wait_for(lambda: (ref.get().to_dict() or {}).get("providerId"))
    [sent] = sent_for(twilio, ref)
    assert sent["ContentSid"] == "HX" + "c" * 32 and sent["ContentVariables"] == '{"1": "Ana"}'
    post_signed(api, INBOUND, inbound_form(ws.number, CUSTOMER, "ok"))
    ref = _send(ws, cid, location={"latitude": 19.43, "longitude": -99.13, "label": "Oficina"})
    wait_for(lambda: (ref.get().to_dict() or {}).get("providerId"))
    assert sent_for(twilio, ref)[0]["PersistentAction"] == "geo:19.43,-99.13|Oficina"


def test_inbound_media_can_be_forwarded(api, twilio):
    ws, cid = _setup(api, twilio)
    url = twilio.add_media("ME" + "2" * 32, b"%PDF-1.4 test", "application/pdf")
    form = inbound_form(ws.number, CUSTOMER, body="", NumMedia="1", MediaUrl0=url,
                        MediaContentType0="application/pdf")
    assert post_signed(api, INBOUND, form).status_code == 200
    media_id = [d.to_dict() for d in conversation_doc(ws.id, cid).collection("messages").stream()
                if d.to_dict().get("mediaId")][0]["mediaId"]
    ref = _send(ws, cid, mediaId=media_id, text="reenvío")
    wait_for(lambda: (ref.get().to_dict() or {}).get("providerId"))
    url = sent_for(twilio, ref)[0]["MediaUrl"]
    assert urlsplit(url).path.endswith(".pdf") and "X-Goog-Signature=" in url and ref.get().get("type") == "file"
    [fetch] = [f for f in twilio.media_fetches if f["url"] == url]  # Twilio fetched the signed URL
    assert fetch["status"] == 200 and fetch["contentType"] == "application/pdf" and fetch["body"] == b"%PDF-1.4 test"
