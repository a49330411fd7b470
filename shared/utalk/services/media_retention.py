"""Media retention: delete what a workspace no longer keeps, a page at a time, idempotently.

Two kinds of records go: media older than the workspace's retention (`settings.mediaRetentionDays`,
default the spec's 2 years) and signed uploads never completed (`expiresAt` passed; only pending
records carry it). Each goes object first, then record and quota charge together (the record's
delete requires it to exist, so a repeated run subtracts nothing twice; a missing object is
already gone). A run stopped anywhere leaves nothing half-deleted that the next run cannot finish.

`sweep()` is one page of the scheduled job over every workspace: it returns the counts and a
cursor to continue from (None when done), for the job helper to pass to a follow-up task
(the `media_retention` job, daily: functions/job_media_retention.py).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from google.api_core.exceptions import NotFound as GcsNotFound

from utalk import clients, logs
from utalk.media import limits
from utalk.models.common import utcnow
from utalk.repositories.base import cursor_id, decode_cursor, encode_cursor
from utalk.repositories.media import MediaRepository, Stale
from utalk.repositories.workspaces import workspace_ids, workspace_settings

log = logs.get("media.retention")
PAGE = 200
WORKSPACES_PER_READ = 50


def sweep(cursor: str | None = None, limit: int = PAGE, now: datetime | None = None) -> tuple[dict, str | None]:
    """Delete up to `limit` records, resuming at the cursor's workspace."""
    now = now or utcnow()
    counts = {"expired": 0, "abandoned": 0}
    start, inclusive = (decode_cursor(cursor, cursor_id)[0] if cursor else None), True  # a workspace id
    budget = limit
    while True:
        batch = workspace_ids(start, WORKSPACES_PER_READ, inclusive=inclusive)
        for ws in batch:
            budget -= sweep_workspace(ws, now, budget, counts)
            if budget <= 0:
                return counts, encode_cursor([ws])  # this workspace again: its deleted records are gone
        if len(batch) < WORKSPACES_PER_READ:
            return counts, None
        start, inclusive = batch[-1], False


def sweep_workspace(workspace_id: str, now: datetime, budget: int, counts: dict) -> int:
    """Delete up to `budget` of one workspace's expired media and abandoned uploads; returns how many."""
    repo = MediaRepository(workspace_id)
    days = int(workspace_settings(workspace_id).get("mediaRetentionDays") or limits.RETENTION_DAYS)
    done = 0
    for field, cutoff, kind in (("expiresAt", now, "abandoned"), ("createdAt", now - timedelta(days=days), "expired")):
        while done < budget:
            want = min(PAGE, budget - done)
            records = repo.older_than(field, cutoff, want)
            for record in records:
                delete(repo, record)
            done += len(records)
            counts[kind] += len(records)
            if len(records) < want:
                break
    return done


def delete(repo: MediaRepository, record: dict) -> None:
    """Object, then record and quota together; safe to repeat."""
    try:
        clients.storage().bucket(record["bucket"]).blob(record["path"]).delete()
    except GcsNotFound:
        pass
    try:
        repo.delete_counted([record])
    except Stale:  # another run deleted it meanwhile
        pass
