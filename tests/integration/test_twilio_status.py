"""Status callbacks: signed, forward-only (out-of-order safe), failures keep their code,
unknown messages harmless."""
from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from messaging_support import INBOUND, conv_id, conversation_doc, inbound_form, post_signed, wait_for, workspace

CUSTOMER = "+5215512345678"


def _sent(api, twilio):
    ws = workspace(api, twilio=twilio, bot=False)
    post_signed(api, INBOUND, inbound_form(ws.number, CUSTOMER))
    cid = conv_id(CUSTOMER, ws.number)
    r = ws.api.post("/api/v1/messages", json={"conversationId": cid, "messageId": str(uuid.uuid4()), "text": "x"})
    ref = conversation_doc(ws.id, cid).collection("messages").document(r.json()["id"])
    wait_for(lambda: (ref.get().to_dict() or {}).get("providerId"))
    [sent] = [m for m in list(twilio.sent) if f"msg={ref.id}&" in m["StatusCallback"]]
    parts = urlsplit(sent["StatusCallback"])
    return ws, ref, parts.path + "?" + parts.query, sent["sid"]


def _callback(api, path, sid, status, **extra):
    form = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "1" * 32, **extra}
    return post_signed(api, path, form)


def test_out_of_order_callbacks_only_move_forward(api, twilio):
    ws, ref, path, sid = _sent(api, twilio)
    assert _callback(api, path, sid, "delivered").status_code == 200
    assert _callback(api, path, sid, "sent").status_code == 200
    assert ref.get().get("status") == "delivered"
    assert _callback(api, path, sid, "read").status_code == 200
    assert _callback(api, path, sid, "delivered").status_code == 200
    assert ref.get().get("status") == "read"


def test_undelivered_is_terminal_and_keeps_the_error(api, twilio):
    ws, ref, path, sid = _sent(api, twilio)
    _callback(api, path, sid, "undelivered", ErrorCode="63024", ErrorMessage="Invalid recipient")
    _callback(api, path, sid, "delivered")
    msg = ref.get().to_dict()
    assert msg["status"] == "undelivered" and msg["errorCode"] == "63024"


def test_unknown_message_or_sid_is_harmless(api, twilio):
    ws, ref, path, sid = _sent(api, twilio)
    unknown = path.replace(f"msg={ref.id}", "msg=msg_unknown")
    assert _callback(api, unknown, "SM" + "f" * 32, "delivered").status_code == 200
    assert not ref.parent.document("msg_unknown").get().exists
    # A callback naming our message but another SID changes nothing either.
    assert _callback(api, path, "SM" + "e" * 32, "read").status_code == 200
    assert ref.get().get("status") == "sending"


def test_forged_and_unverifiable_callbacks_are_403(api, twilio):
    ws, ref, path, sid = _sent(api, twilio)
    form = {"MessageSid": sid, "MessageStatus": "read"}
    assert post_signed(api, path, form, token="wrong").status_code == 403
    assert post_signed(api, "/webhooks/twilio/status", form).status_code == 403
    assert ref.get().get("status") == "sending"
