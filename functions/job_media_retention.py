"""Scheduled job `media_retention`: media older than the workspace's `mediaRetentionDays` and
uploads never completed are deleted (services/media_retention.py), a page at a time."""
from utalk import clock, jobs
from utalk.services import media_retention


def _deleted(cursor, size):
    """One page of deletes: the sweep does its work as it pages (each deleted record leaves the
    query it came from), so the items are what it deleted and there is nothing left to do per item."""
    counts, after = media_retention.sweep(cursor, size, clock.now())
    return jobs.Page([kind for kind, n in counts.items() for _ in range(n)], after)


sweep = jobs.sweep("media_retention", pages=_deleted, each=lambda kind, run_id: True)
