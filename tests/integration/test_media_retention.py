"""Retention, called directly and as its daily scheduled job (`media_retention`): media older
than the workspace's retention and abandoned signed uploads go, object, record and quota, in
pages that resume from a cursor, and a repeated run changes nothing."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import requests

from media_support import PDF, PNG, blobs_under, media_docs, setup, start, upload, usage_bytes
from messaging_support import db


def _media(ws_id: str):
    return db().collection("workspaces").document(ws_id).collection("media")


def _backdate(ws_id: str, media_id: str, days: int) -> None:
    _media(ws_id).document(media_id).update({"createdAt": datetime.now(timezone.utc) - timedelta(days=days)})


def test_old_media_and_abandoned_uploads_are_swept_in_pages(api):
    from utalk.services import media_retention

    ws, cid = setup(api)
    r = upload(ws.api, cid, ("old.png", PNG, "image/png"), ("old.pdf", PDF, "application/pdf"),
               ("new.png", PNG, "image/png"))
    old_png, old_pdf, new_png = [m["id"] for m in r.json()["items"]]
    for media_id in (old_png, old_pdf):
        _backdate(ws.id, media_id, 731)  # the spec's 2 years have passed
    ticket = start(ws.api, cid, len(PNG), "image/png").json()
    requests.put(ticket["uploadUrl"], data=PNG, headers=ticket["headers"], timeout=10)
    _media(ws.id).document(ticket["mediaId"]).update({"expiresAt": datetime.now(timezone.utc) - timedelta(minutes=1)})
    # another workspace keeps media for 30 days only
    other, other_cid = setup(api)
    db().collection("workspaces").document(other.id).update({"settings.mediaRetentionDays": 30})
    [month_old] = [m["id"] for m in upload(other.api, other_cid, ("a.png", PNG, "image/png")).json()["items"]]
    _backdate(other.id, month_old, 31)
    assert usage_bytes(ws.id) == 2 * len(PNG) + len(PDF)

    totals, cursor, pages = {"expired": 0, "abandoned": 0}, None, 0
    while True:  # one record per page: every page hands over a cursor the next one resumes from
        counts, cursor = media_retention.sweep(cursor, limit=1)
        pages += 1
        for key in totals:
            totals[key] += counts[key]
        if cursor is None:
            break
        assert pages < 20
    assert totals == {"expired": 3, "abandoned": 1}
    assert [d["id"] for d in media_docs(ws.id)] == [new_png] and media_docs(other.id) == []
    assert [b.name.rsplit("/", 1)[1] for b in blobs_under(f"workspaces/{ws.id}/")] == [new_png]
    assert blobs_under(f"workspaces/{other.id}/") == []
    assert usage_bytes(ws.id) == len(PNG) and usage_bytes(other.id) == 0

    assert media_retention.sweep()[0] == {"expired": 0, "abandoned": 0}  # nothing left, nothing twice
    assert usage_bytes(ws.id) == len(PNG)


def test_deleting_twice_subtracts_once(api):
    """The step a retried job repeats: the record's delete requires it to exist."""
    from utalk.repositories.media import MediaRepository
    from utalk.services import media_retention

    ws, cid = setup(api)
    [item] = upload(ws.api, cid, ("a.png", PNG, "image/png")).json()["items"]
    record = _media(ws.id).document(item["id"]).get().to_dict()
    repo = MediaRepository(ws.id)
    media_retention.delete(repo, record)
    media_retention.delete(repo, record)
    assert usage_bytes(ws.id) == 0 and media_docs(ws.id) == [] and blobs_under(f"workspaces/{ws.id}/") == []


def test_the_daily_job_runs_the_sweep_in_pages_through_cloud_tasks(api, stack):
    """The `media_retention` row: Cloud Scheduler's call, continued on the jobs queue page by page."""
    from helpers import call_internal
    from messaging_support import wait_for

    ws, cid = setup(api)
    ids = [m["id"] for m in upload(ws.api, cid, ("a.png", PNG, "image/png"), ("b.png", PNG, "image/png"),
                                   ("c.pdf", PDF, "application/pdf")).json()["items"]]
    for media_id in ids[:2]:
        _backdate(ws.id, media_id, 731)
    r = call_internal(api, "media_retention", {"pageSize": 1, "budgetSeconds": 0},
                      headers={"X-CloudScheduler-ScheduleTime": "2026-05-01T03:30:00Z"})
    assert r.status_code == 200 and r.json()["done"] is False, r.text
    wait_for(lambda: [d["id"] for d in media_docs(ws.id)] == [ids[2]])
    assert usage_bytes(ws.id) == len(PDF)
    again = call_internal(api, "media_retention", {}, headers={"X-CloudScheduler-ScheduleTime": "next"}).json()
    assert (again["processed"], again["done"]) == (0, True)
