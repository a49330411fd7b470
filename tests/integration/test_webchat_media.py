"""A web chat visitor's attachments, over HTTP through the gateway: uploaded into its own
conversation under the media API's limits (types 415, size 413), sent as a message, seen by
agents; and no visitor reads another conversation's media."""
from __future__ import annotations

import uuid

from media_support import EXE, PDF, PNG, blobs_under, media_docs
from messaging_support import messages
from webchat_support import Visitor, web_channel

from utalk.media import limits


def _upload(visitor: Visitor, *files, params=None):
    return visitor.api.post(visitor.chat.path("media"), headers=visitor.headers(),
                            files=[("file", f) for f in files], params=params)


def _send(visitor: Visitor, **body):
    return visitor.api.post(visitor.chat.path("messages"), headers=visitor.headers(),
                            json={"messageId": str(uuid.uuid4()), **body})


def test_a_visitor_uploads_a_file_sends_it_and_agents_see_it(api):
    chat = web_channel(api)
    visitor = Visitor.open(api, chat)
    r = _upload(visitor, ("ticket.png", PNG, "image/png"))
    assert r.status_code == 201, r.text
    [item] = r.json()["items"]
    assert item["conversationId"] == visitor.conversation_id and item["mimeType"] == "image/png"
    assert item["uploadedBy"] == f"web:{visitor.session['visitorId']}" and item["url"]

    r = _send(visitor, text="mi ticket", mediaId=item["id"])
    assert r.status_code == 201, r.text
    [stored] = messages(chat.ws, visitor.conversation_id)
    assert stored["mediaId"] == item["id"] and stored["type"] == "image" and stored["text"] == "mi ticket"
    [shown] = visitor.history().json()["items"]
    assert shown["mediaId"] == item["id"] and shown["type"] == "image"
    assert _send(visitor, mediaId=item["id"]).status_code == 201          # a file alone is a message too

    r = chat.api.get(f"/api/v1/media/{item['id']}")                       # the agents' media API
    assert r.status_code == 200 and r.json()["url"], r.text
    r = chat.api.get(f"/api/v1/conversations/{visitor.conversation_id}/messages")
    assert item["id"] in [m.get("mediaId") for m in r.json()["items"]]
    r = api.get(chat.path(f"media/{item['id']}"), headers=visitor.headers())
    assert r.status_code == 200 and r.json()["id"] == item["id"] and r.json()["url"]


def test_the_media_api_s_limits_hold_for_visitors(api):
    chat = web_channel(api)
    visitor = Visitor.open(api, chat)
    r = _upload(visitor, ("setup.exe", EXE, "application/pdf"))
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type", r.text
    r = _upload(visitor, ("big.png", PNG + b"\0" * (limits.MAX_MULTIPART_BYTES + 1), "image/png"))
    assert r.status_code == 413, r.text
    assert media_docs(chat.ws) == [] and blobs_under(f"workspaces/{chat.ws}/") == []
    for body in ({"mediaId": "media_nope"}, {"text": "x", "mediaId": "media_" + str(uuid.uuid4())}):
        r = _send(visitor, **body)
        assert r.status_code == 422 and r.json()["error"]["code"] == "media_not_found", r.text
    assert _send(visitor).status_code == 422                               # neither text nor file
    assert messages(chat.ws, visitor.conversation_id) == []


def test_a_visitor_never_reads_nor_sends_another_conversation_s_media(api):
    chat = web_channel(api)
    owner, other = Visitor.open(api, chat), Visitor.open(api, chat)
    [item] = _upload(owner, ("factura.pdf", PDF, "application/pdf")).json()["items"]
    r = api.get(chat.path(f"media/{item['id']}"), headers=other.headers())
    assert r.status_code == 404 and r.json()["error"]["code"] == "media_not_found"
    r = _send(other, mediaId=item["id"])
    assert r.status_code == 422 and r.json()["error"]["code"] == "media_conversation_mismatch", r.text
    r = _upload(other, ("x.pdf", PDF, "application/pdf"), params={"conversationId": owner.conversation_id})
    assert r.status_code == 404, r.text                                    # nor upload into it
    assert len(media_docs(chat.ws)) == 1
    r = api.get(chat.path(f"media/{item['id']}"))                         # no token
    assert r.status_code == 401
