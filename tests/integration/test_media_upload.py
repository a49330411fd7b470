"""Uploads through HTTP against the storage emulator: multipart and signed PUT + completion,
types by content, the limits (size, workspace quota, files per minute), and the realtime event."""
from __future__ import annotations

import requests

from media_support import (EXE, PDF, PNG, REFUSED, SAMPLES, blobs_under, devstack_public_key, media_docs, setup,
                           start, upload, usage_bytes, verify_signed_url)
from messaging_support import agent, wait_for
from realtime_support import RealtimeReader

from utalk.media import limits


def _shards(ws_id: str):
    from utalk import clients
    return clients.firestore().collection("workspaces").document(ws_id).collection("mediaUsage")


def test_multipart_upload_stores_each_file_with_its_checked_type_and_announces_it(api):
    ws, cid = setup(api)
    reader = RealtimeReader()
    try:
        r = upload(ws.api, cid, ("scan.bin", PDF, "application/octet-stream"), ("photo.png", PNG, "image/png"))
        assert r.status_code == 201, r.text
        items = r.json()["items"]
        assert [(m["mimeType"], m["type"], m["fileName"], m["sizeBytes"]) for m in items] == [
            ("application/pdf", "file", "scan.bin", len(PDF)), ("image/png", "image", "photo.png", len(PNG))]
        for item, data in zip(items, (PDF, PNG)):
            assert item["id"].startswith("media_") and item["conversationId"] == cid and item["status"] == "ready"
            assert item["url"] == item["publicUrl"] and "X-Goog-Signature=" in item["url"]
            fetched = requests.get(item["url"], timeout=10)
            assert fetched.content == data
        stored = {b.name: b.content_type for b in blobs_under(f"workspaces/{ws.id}/media/")}
        assert sorted(stored.values()) == ["application/pdf", "image/png"]
        assert usage_bytes(ws.id) == len(PDF) + len(PNG)
        events = wait_for(lambda: [e for e in reader.pull() if e["event"] == "media:uploaded"] or None)
        wait_for(lambda: len([e for e in reader.pull() if e["event"] == "media:uploaded"]) == 2)
        event = events[0]
        assert event["attributes"]["audience"] == "conversation" and event["attributes"]["conversationId"] == cid
        assert event["payload"]["media"]["id"] == items[0]["id"] and event["payload"]["media"]["url"] is None
    finally:
        reader.close()


def test_every_accepted_format_uploads_and_ooxml_is_told_apart(api):
    ws, cid = setup(api)
    names = sorted(SAMPLES)
    agent_api, _ = agent(ws, api)  # 16 files: more than one user's 10 per minute
    for uploader, batch in ((ws.api, names[:8]), (agent_api, names[8:])):
        r = upload(uploader, cid, *[(n, SAMPLES[n][0], "application/octet-stream") for n in batch], query=True)
        assert r.status_code == 201, r.text
        assert [m["mimeType"] for m in r.json()["items"]] == [SAMPLES[n][1] for n in batch]


def test_a_jpg_that_is_an_executable_is_415_and_nothing_is_kept(api):
    ws, cid = setup(api)
    r = upload(ws.api, cid, ("photo.jpg", EXE, "image/jpeg"))
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type", r.text
    # one bad file among good ones: the whole upload is refused, the good file's object removed too
    r = upload(ws.api, cid, ("ok.png", PNG, "image/png"), ("photo.jpg", EXE, "image/jpeg"))
    assert r.status_code == 415
    agent_api, _ = agent(ws, api)  # refused files count against the uploader's 10 per minute too
    for name, data in REFUSED.items():
        assert upload(agent_api, cid, (name, data, "application/octet-stream")).status_code == 415, name
    assert blobs_under(f"workspaces/{ws.id}/") == [] and media_docs(ws.id) == [] and usage_bytes(ws.id) == 0


def test_multipart_needs_a_visible_conversation_and_files(api):
    ws, cid = setup(api)
    assert upload(ws.api, None, ("a.png", PNG, "image/png")).json()["error"]["code"] == "conversation_required"
    assert upload(ws.api, "conv_nope", ("a.png", PNG, "image/png")).status_code == 404
    r = ws.api.post("/api/v1/media", files=[("conversationId", (None, cid))])
    assert r.status_code == 400 and r.json()["error"]["code"] == "no_files"
    r = ws.api.post("/api/v1/media", json={"conversationId": cid})
    assert r.status_code == 415
    r = upload(ws.api, cid, *[(f"{i}.png", PNG, "image/png") for i in range(11)])
    assert r.status_code == 422 and r.json()["error"]["code"] == "too_many_files"
    assert blobs_under(f"workspaces/{ws.id}/") == [] and media_docs(ws.id) == []


def test_the_route_takes_32_mb_and_refuses_more_before_storing_anything(api):
    ws, cid = setup(api)
    r = upload(ws.api, cid, ("12mb.png", PNG + b"\0" * (12 * 1024 * 1024), "image/png"))  # over the global 10 MB
    assert r.status_code == 201, r.text
    [item] = r.json()["items"]
    assert item["sizeBytes"] == len(PNG) + 12 * 1024 * 1024 and requests.get(item["url"], timeout=30).content[:8] == PNG[:8]
    before = [b.name for b in blobs_under(f"workspaces/{ws.id}/")]
    big = PNG + b"\0" * (limits.MAX_MULTIPART_BYTES + 1)
    r = upload(ws.api, cid, ("big.png", big, "image/png"))
    assert r.status_code == 413, r.text
    assert [b.name for b in blobs_under(f"workspaces/{ws.id}/")] == before


def test_ten_files_per_minute_per_user(api):
    ws, cid = setup(api)
    assert upload(ws.api, cid, *[(f"{i}.png", PNG, "image/png") for i in range(10)]).status_code == 201
    r = upload(ws.api, cid, ("11.png", PNG, "image/png"))
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited" and r.headers["Retry-After"]
    assert start(ws.api, cid, 100, "image/png").status_code == 429
    assert len(media_docs(ws.id)) == 10


def test_workspace_quota_is_413_before_signing_and_after_counting(api):
    ws, cid = setup(api)
    _shards(ws.id).document("s07").set({"bytes": limits.WORKSPACE_QUOTA_BYTES - 100})
    r = start(ws.api, cid, 200, "image/png")
    assert r.status_code == 413 and r.json()["error"]["code"] == "workspace_quota_exceeded", r.text
    assert start(ws.api, cid, 50, "image/png").status_code == 201
    r = upload(ws.api, cid, ("a.png", PNG, "image/png"))  # the request's length alone is over
    assert r.status_code == 413 and r.json()["error"]["code"] == "workspace_quota_exceeded"
    assert blobs_under(f"workspaces/{ws.id}/") == []


def test_signed_upload_then_completion(api):
    ws, cid = setup(api)
    r = start(ws.api, cid, len(PNG), "image/jpg", name="foto.jpg")  # an alias: signed as its canonical type
    assert r.status_code == 201 and r.json()["headers"]["Content-Type"] == "image/jpeg"
    r = start(ws.api, cid, len(PNG), "image/png", name="foto.png")
    assert r.status_code == 201, r.text
    ticket = r.json()
    assert ticket["method"] == "PUT" and ticket["media"]["status"] == "pending" and ticket["media"]["url"] is None
    assert ticket["headers"] == {"Content-Type": "image/png", "x-goog-content-length-range": f"1,{len(PNG)}"}
    params = verify_signed_url(ticket["uploadUrl"], "PUT", ticket["headers"], devstack_public_key())
    assert params["X-Goog-SignedHeaders"] == "content-type;host;x-goog-content-length-range"
    assert int(params["X-Goog-Expires"]) == limits.UPLOAD_URL_SECONDS
    media_id = ticket["mediaId"]
    done = ws.api.post(f"/api/v1/media/{media_id}/complete")
    assert done.status_code == 409 and done.json()["error"]["code"] == "upload_missing"
    assert requests.put(ticket["uploadUrl"], data=PNG, headers=ticket["headers"], timeout=10).status_code == 200
    done = ws.api.post(f"/api/v1/media/{media_id}/complete")
    assert done.status_code == 201, done.text
    assert done.json()["status"] == "ready" and done.json()["sizeBytes"] == len(PNG)
    assert requests.get(done.json()["url"], timeout=10).content == PNG
    again = ws.api.post(f"/api/v1/media/{media_id}/complete")
    assert again.status_code == 200 and usage_bytes(ws.id) == len(PNG)  # counted once
    [record] = [d for d in media_docs(ws.id) if d["id"] == media_id]
    assert record["status"] == "ready" and "expiresAt" not in record and record["quotaBytes"] == len(PNG)


def test_signed_upload_checks_what_landed(api):
    ws, cid = setup(api)
    # declared a PNG, uploaded an executable with the signed headers: refused, nothing kept
    ticket = start(ws.api, cid, len(EXE), "image/png").json()
    requests.put(ticket["uploadUrl"], data=EXE, headers=ticket["headers"], timeout=10)
    r = ws.api.post(f"/api/v1/media/{ticket['mediaId']}/complete")
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"
    # declared 100 bytes, uploaded more (real Cloud Storage refuses the PUT; the emulator does not)
    ticket = start(ws.api, cid, 100, "image/png").json()
    requests.put(ticket["uploadUrl"], data=PNG, headers=ticket["headers"], timeout=10)
    r = ws.api.post(f"/api/v1/media/{ticket['mediaId']}/complete")
    assert r.status_code == 413 and r.json()["error"]["code"] == "file_too_large"
    assert blobs_under(f"workspaces/{ws.id}/") == [] and media_docs(ws.id) == [] and usage_bytes(ws.id) == 0
    r = start(ws.api, cid, limits.MAX_FILE_BYTES + 1, "video/mp4")
    assert r.status_code == 413 and r.json()["error"]["code"] == "file_too_large"
    r = start(ws.api, cid, 10, "application/x-msdownload")
    assert r.status_code == 415
    assert start(ws.api, cid, 0, "image/png").status_code == 422


def test_an_expired_upload_cannot_be_completed(api):
    from datetime import datetime, timedelta, timezone

    from utalk import clients
    ws, cid = setup(api)
    ticket = start(ws.api, cid, len(PNG), "image/png").json()
    requests.put(ticket["uploadUrl"], data=PNG, headers=ticket["headers"], timeout=10)
    clients.firestore().collection("workspaces").document(ws.id).collection("media").document(
        ticket["mediaId"]).update({"expiresAt": datetime.now(timezone.utc) - timedelta(seconds=1)})
    r = ws.api.post(f"/api/v1/media/{ticket['mediaId']}/complete")
    assert r.status_code == 409 and r.json()["error"]["code"] == "upload_expired"
