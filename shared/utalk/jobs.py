"""Scheduled jobs: the manifest rows with `schedule=`, called by Cloud Scheduler at their cron times
(locally by devstack/scheduler.py) and checked like every internal function (utalk.internal).

A job is a sweep: `pages(cursor, size)` returns the next page of work and the cursor after it,
`each(item, run_id)` does one item (and says whether it started new work). A run starts from the body's cursor (none from the scheduler)
and goes page by page; before its budget (half the function's timeout) runs out it enqueues its
own continuation as a Cloud Task on `manifest.JOBS_QUEUE` with the next cursor, and returns. So a
sweep of any size completes, one bounded call at a time.

Idempotent by construction: Cloud Scheduler may deliver a time slot twice, and a continuation
task may be delivered twice. A run is named by its slot (`X-CloudScheduler-ScheduleTime`, carried
on by its continuations as `runId`); the continuation's task name and whatever `each` enqueues are
keyed by it, so a repeated run enqueues nothing new, and `each` must be safe to repeat anyway.
A job with several kinds of work sweeps them in turn (`phases`).
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from utalk import internal, logs, manifest
from utalk.models.common import DocId

SCHEDULE_TIME_HEADER = "X-CloudScheduler-ScheduleTime"


@dataclass
class Page:
    items: list
    cursor: str | None          # where the next page starts; None when this was the last


class JobRun(BaseModel):
    """A job request's body: empty from Cloud Scheduler; a continuation carries where to go on."""
    model_config = ConfigDict(extra="forbid")

    runId: DocId | None = None
    cursor: str | None = Field(default=None, max_length=1500)
    pageSize: int | None = Field(default=None, ge=1, le=1000)
    budgetSeconds: float | None = Field(default=None, ge=0, le=3600)


def sweep(name: str, *, pages: Callable[[str | None, int], Page], each: Callable[[Any, str], Any],
          page_size: int = 100) -> Callable:
    """The entry point of scheduled function `name`, sweeping `pages` with `each`."""
    fn = manifest.get(name)
    if not fn.schedule:
        raise ValueError(f"{name} has no schedule in the manifest")

    def parse(request) -> JobRun:
        raw = request.get_data()
        try:
            run = JobRun.model_validate_json(raw) if raw.strip() else JobRun()
        except ValidationError:
            raise internal.Drop("invalid_job") from None
        if run.runId is None:
            slot = request.headers.get(SCHEDULE_TIME_HEADER) or datetime.now(timezone.utc).isoformat()
            run.runId = slot.replace("/", "-")[:200]
        if logs.trace.get() is None:   # each scheduled run is a trace of its own
            from utalk.config import settings
            logs.trace.set(logs.trace_path(settings().project_id, logs.new_trace_id()))
        return run

    def handler(run: JobRun) -> dict:
        budget = run.budgetSeconds if run.budgetSeconds is not None else fn.timeout_seconds / 2
        result, following = advance(run, pages, each, run.pageSize or page_size, time.monotonic() + budget)
        if following is not None:
            _continue(name, following)
        return result

    return internal.function(name, parse)(handler)


def advance(run: JobRun, pages, each, size: int, deadline: float, clock=time.monotonic
            ) -> tuple[dict, JobRun | None]:
    """Sweep pages from `run.cursor` until the last one or `deadline`; returns the run's result and
    the continuation to enqueue (None when done). `each` returns whether it started new work."""
    cursor, processed, started, count = run.cursor, 0, 0, 0
    while True:
        page = pages(cursor, size)
        for item in page.items:
            started += bool(each(item, run.runId))
        processed, count, cursor = processed + len(page.items), count + 1, page.cursor
        result = {"runId": run.runId, "processed": processed, "started": started, "pages": count,
                  "done": cursor is None}
        if cursor is None:
            return result, None
        if clock() >= deadline:
            return {**result, "cursor": cursor}, run.model_copy(update={"cursor": cursor})


def phases(*steps: tuple[Callable[[str | None, int], Page], Callable[[Any, str], Any]]
           ) -> tuple[Callable[[str | None, int], Page], Callable[[Any, str], Any]]:
    """One sweep over several kinds of work in turn, from `(pages, each)` steps: the (pages, each)
    of a job whose cursor says which step and where in it. A page that finishes a step goes on
    with the next one, so a page is as full as a single step's would be."""
    def pages(cursor: str | None, size: int) -> Page:
        try:
            index, inner = json.loads(cursor) if cursor else (0, None)
            steps[index]
        except (ValueError, TypeError, IndexError):
            raise internal.Drop("invalid_job", "cursor") from None
        items: list = []
        while True:
            page = steps[index][0](inner, size - len(items))
            items += [(index, item) for item in page.items]
            if page.cursor is not None:
                return Page(items, json.dumps([index, page.cursor]))
            index, inner = index + 1, None
            if index == len(steps):
                return Page(items, None)
            if len(items) >= size:
                return Page(items, json.dumps([index, None]))

    def each(tagged, run_id: str):
        index, item = tagged
        return steps[index][1](item, run_id)

    return pages, each


def _continue(name: str, run: JobRun) -> None:
    from utalk import tasks

    key = hashlib.sha256(f"{run.runId}|{run.cursor}".encode()).hexdigest()
    tasks.enqueue(name, run, dedup_key=key)
