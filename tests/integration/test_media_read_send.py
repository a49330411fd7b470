"""Reading media (visibility, tenancy) and sending it: agents' attachments go out on WhatsApp as
signed URLs the fake Twilio fetches and type-checks; channel limits are a 422 before queueing."""
from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import requests

from media_support import PDF, PNG, SAMPLES, padded, setup, upload
from messaging_support import INBOUND, agent, conv_id, conversation_doc, db, inbound_form, post_signed, wait_for
from test_sender import sent_for


def _uploaded(ws, cid, *files):
    r = upload(ws.api, cid, *files)
    assert r.status_code == 201, r.text
    return [m["id"] for m in r.json()["items"]]


def _send(ws, cid, **body):
    return ws.api.post("/api/v1/messages", json={"conversationId": cid, "messageId": str(uuid.uuid4()), **body})


def test_get_returns_the_record_and_a_fresh_signed_url(api):
    ws, cid = setup(api)
    [media_id] = _uploaded(ws, cid, ("plano.pdf", PDF, "application/pdf"))
    r = ws.api.get(f"/api/v1/media/{media_id}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == media_id and body["mimeType"] == "application/pdf" and body["urlExpiresAt"]
    fetched = requests.get(body["url"], timeout=10)
    assert fetched.content == PDF
    assert "response-content-disposition=attachment" in body["url"]


def test_media_of_another_workspace_or_a_hidden_conversation_is_404(api):
    ws, cid = setup(api)
    [media_id] = _uploaded(ws, cid, ("a.png", PNG, "image/png"))
    other, _ = setup(api)
    r = other.api.get(f"/api/v1/media/{media_id}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "media_not_found"
    assert other.api.post(f"/api/v1/media/{media_id}/complete").status_code == 404
    assert _send(other, cid, mediaId=media_id).status_code == 404  # not even the conversation is theirs
    # an agent of the same workspace who may see only conversations assigned to them
    agent_api, _ = agent(ws, api)
    db().collection("workspaces").document(ws.id).update({"settings.agentVisibility": "assigned"})
    assert agent_api.get(f"/api/v1/media/{media_id}").status_code == 404
    assert agent_api.get("/api/v1/media/media_nope").status_code == 404
    assert upload(agent_api, cid, ("b.png", PNG, "image/png")).status_code == 404


def test_an_agent_sends_media_on_whatsapp_and_twilio_fetches_the_signed_urls(api, twilio):
    ws, cid = setup(api, twilio)
    png, pdf = _uploaded(ws, cid, ("foto.png", PNG, "image/png"), ("plano.pdf", PDF, "application/pdf"))
    r = _send(ws, cid, text="aquí están", mediaIds=[png, pdf])
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["type"] == "image" and first["mediaId"] == png and first["mediaIds"] == [png]
    # WhatsApp carries one attachment per message: the send became two messages, text on the first
    msgs = wait_for(lambda: (m := [d.to_dict() for d in conversation_doc(ws.id, cid).collection("messages").stream()
                                   if d.to_dict().get("direction") == "outbound"]) and len(m) == 2
                    and all(x.get("providerId") for x in m) and m)
    by_media = {m["mediaId"]: m for m in msgs}
    assert by_media[png]["text"] == "aquí están" and by_media[pdf].get("text") is None
    assert by_media[pdf]["type"] == "file"
    for media_id, mime, data in ((png, "image/png", PNG), (pdf, "application/pdf", PDF)):
        ref = conversation_doc(ws.id, cid).collection("messages").document(by_media[media_id]["id"])
        [sent] = sent_for(twilio, ref)
        url = sent["MediaUrl"]
        assert urlsplit(url).path.endswith(media_id) and "X-Goog-Signature=" in url
        assert f"response-content-type={mime.replace('/', '%2F')}" in url
        [fetch] = [f for f in twilio.media_fetches if f["url"] == url]
        assert fetch["status"] == 200 and fetch["contentType"] == mime and fetch["body"] == data
    # a retried send (same messageId) queues nothing more
    again = ws.api.post("/api/v1/messages", json={"conversationId": cid, "messageId": first["messageId"],
                                                  "text": "aquí están", "mediaIds": [png, pdf]})
    assert again.status_code == 200
    assert len([d for d in conversation_doc(ws.id, cid).collection("messages").stream()
                if d.to_dict().get("direction") == "outbound"]) == 2


def test_twilio_refuses_a_url_that_answers_a_type_it_does_not_accept(api, twilio):
    """The fake Twilio's fetch check, end to end: the emulator serves the object's own Content-Type
    (it ignores the signed response-content-type that real Cloud Storage applies), so an object
    whose metadata changed behind the record's back reaches Twilio as octet-stream."""
    from utalk import clients
    from utalk.config import settings
    ws, cid = setup(api, twilio)
    [media_id] = _uploaded(ws, cid, ("a.png", PNG, "image/png"))
    blob = clients.storage().bucket(settings().bucket).blob(f"workspaces/{ws.id}/media/{media_id}")
    blob.content_type = "application/octet-stream"
    blob.patch()
    r = _send(ws, cid, mediaId=media_id)
    assert r.status_code == 201
    ref = conversation_doc(ws.id, cid).collection("messages").document(r.json()["id"])
    msg = wait_for(lambda: (d := ref.get().to_dict()) and d["status"] == "failed" and d)
    assert msg["errorCode"] == "12300" and twilio.media_fetches[0]["contentType"] == "application/octet-stream"


def test_channel_limits_are_422_before_queueing(api, twilio):
    ws, cid = setup(api, twilio)
    gif, = _uploaded(ws, cid, ("anim.gif", SAMPLES["anim.gif"][0], "image/gif"))
    r = _send(ws, cid, mediaId=gif)
    assert r.status_code == 422 and r.json()["error"]["code"] == "media_type_not_supported"
    assert r.json()["error"]["details"]["channel"] == "whatsapp"
    big = padded(PNG[:24], 5 * 1024 * 1024 + 1)  # WhatsApp: images up to 5 MB
    [big_id] = _uploaded(ws, cid, ("big.png", big, "image/png"))
    r = _send(ws, cid, mediaIds=[big_id])
    assert r.status_code == 422 and r.json()["error"]["code"] == "media_too_large_for_channel"
    assert r.json()["error"]["details"]["maxBytes"] == 5 * 1024 * 1024
    r = _send(ws, cid, mediaIds=[f"media_{i}" for i in range(11)])
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"
    r = _send(ws, cid, mediaIds=["media_nope"])
    assert r.status_code == 422 and r.json()["error"]["code"] == "media_not_found"
    pending = ws.api.post("/api/v1/media/uploads", json={"conversationId": cid, "fileName": "x.png",
                                                         "contentType": "image/png", "sizeBytes": 10}).json()
    r = _send(ws, cid, mediaId=pending["mediaId"])
    assert r.status_code == 422 and r.json()["error"]["code"] == "media_not_ready"
    assert [m for m in twilio.sent] == []
    assert not [d for d in conversation_doc(ws.id, cid).collection("messages").stream()
                if d.to_dict().get("direction") == "outbound"]


def test_media_of_another_conversation_cannot_be_attached(api, twilio):
    ws, cid = setup(api, twilio)
    [media_id] = _uploaded(ws, cid, ("a.png", PNG, "image/png"))
    post_signed(api, INBOUND, inbound_form(ws.number, "+5215599999999"))
    other = conv_id("+5215599999999", ws.number)
    r = _send(ws, other, mediaId=media_id)
    assert r.status_code == 422 and r.json()["error"]["code"] == "media_conversation_mismatch"
