"""Analytics compaction (docs/analytics.md): a finished day's counter shards folded into one rollup
document per day x channel x agent, so a report reads ~23 documents a day instead of ~68.

Run hourly by the `analytics_compaction` job over every workspace. A day is finished everywhere
36 hours after it began in UTC (the last zone, UTC-12, ends it 12 hours after UTC does); the
compaction would be correct earlier too (it is transactional per group: repositories/analytics.py
`compact`), just wasted on shards still being written.
"""
from __future__ import annotations

from datetime import timedelta

from utalk import clock, jobs
from utalk.repositories import sweeps
from utalk.repositories.analytics import AnalyticsRepository

FINISHED_AFTER = timedelta(hours=36)


def last_finished_day() -> str:
    return (clock.now() - FINISHED_AFTER).date().isoformat()


def pages(cursor: str | None, size: int) -> jobs.Page:
    return jobs.Page(*sweeps.analytics_shards(last_finished_day(), cursor, size))


def each(group: tuple[str, str, str, str], run_id: str) -> bool:
    """Fold one workspace's day x channel x agent; True when it folded something."""
    ws, day, channel, agent = group
    return AnalyticsRepository(ws).compact(day, channel, agent) > 0
