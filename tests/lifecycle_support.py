"""Helpers for the lifecycle, offer and job tests: the tasks waiting in a Cloud Tasks queue (read and
run through the emulator's ListTasks/RunTask, as `gcloud tasks run` does), the local clock, and a
reader of one workspace's realtime events."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from realtime_support import RealtimeReader


def queued(function_name: str, **match) -> list[dict]:
    """The tasks waiting for `function_name` whose body has `match`'s values: name, body, due."""
    from utalk import clients, manifest, tasks

    fn = manifest.get(function_name)
    found = []
    for task in clients.tasks().list_tasks(parent=tasks.queue_path(fn.queue or manifest.JOBS_QUEUE)):
        request = task.http_request
        if not request.url.endswith(f"/{function_name}"):
            continue
        body = json.loads(request.body or b"{}")
        if all(body.get(k) == v for k, v in match.items()):
            due = task.schedule_time
            found.append({"name": task.name, "body": body,
                          "due": datetime.fromtimestamp(due.timestamp(), timezone.utc) if due else None})
    return found


def run_task(name: str) -> None:
    """Dispatch a waiting task now (Cloud Tasks' RunTask): the real delivery, OIDC and all."""
    from utalk import clients

    clients.tasks().run_task(name=name)


def move_clock(moment: datetime | None) -> None:
    from utalk import clock

    clock.set(moment)


def now() -> datetime:
    from utalk import clock

    return clock.now()


class Events:
    """The realtime events of one workspace seen so far (realtime-events and carried ones)."""

    def __init__(self):
        self.reader = RealtimeReader()

    def of(self, workspace_id: str, event: str | None = None) -> list[dict]:
        return [e for e in self.reader.pull() if e["workspaceId"] == workspace_id
                and (event is None or e["event"] == event)]

    def updates(self, workspace_id: str, reason: str) -> list[dict]:
        return [e for e in self.of(workspace_id, "conversation:updated") if e["payload"]["reason"] == reason]

    def close(self) -> None:
        self.reader.close()
