"""Cloud Tasks: enqueueing HTTP tasks to a function's own URL, and the decorator task handlers use.

A task targets `{functions_base_url}/<function name>` on the queue the manifest gives that function
(a scheduled job's follow-ups go on `manifest.JOBS_QUEUE`), so the queue's rate and concurrency are
the limits the function runs under. Every task carries an OIDC token of the invoker service
account with that URL as audience, which the function checks (utalk.internal); and the trace of
the work that enqueued it (`X-Cloud-Trace-Context`). Answering 2xx means done; anything else makes
Cloud Tasks retry with the queue's backoff, so a handler only fails for what a retry could fix.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from google.api_core.exceptions import AlreadyExists
from pydantic import BaseModel, ValidationError

from utalk import clients, logs, manifest
from utalk.config import settings

log = logs.get("tasks")


def queue_path(queue: str) -> str:
    cfg = settings()
    return f"projects/{cfg.project_id}/locations/{cfg.region}/queues/{queue}"


def enqueue(function_name: str, payload: BaseModel | dict, *, delay_seconds: float = 0,
            dedup_key: str | None = None) -> bool:
    """Create one HTTP task for manifest function `function_name`; False if the name was taken.

    `dedup_key` names the task, so Cloud Tasks refuses a second task for the same key for about an
    hour after the first ran (a redelivered Pub/Sub message enqueues nothing twice); the local
    emulator does the same (devstack/tasks_emulator.py). Handlers stay idempotent anyway.
    """
    fn = manifest.get(function_name)
    queue = fn.queue or (manifest.JOBS_QUEUE if fn.schedule else None)
    if not queue:
        raise ValueError(f"{function_name} is not a Cloud Tasks function")
    cfg = settings()
    url = f"{cfg.functions_base_url}/{fn.name}"
    body = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    headers = {"Content-Type": "application/json"}
    trace_id = logs.current_trace_id()
    if trace_id:
        headers[logs.TRACE_HEADER] = logs.trace_header(trace_id)
    task: dict[str, Any] = {"http_request": {
        "http_method": "POST", "url": url, "headers": headers,
        "body": json.dumps(body, separators=(",", ":")).encode(),
        "oidc_token": {"service_account_email": cfg.invoker_service_account, "audience": url},
    }}
    if delay_seconds > 0:
        from google.protobuf import timestamp_pb2
        ts = timestamp_pb2.Timestamp()
        ts.FromDatetime(datetime.now(timezone.utc) + timedelta(seconds=delay_seconds))
        task["schedule_time"] = ts
    parent = queue_path(queue)
    if dedup_key:
        # Hashed names spread over the queue's key space (sequential names make hot tablets).
        task["name"] = f"{parent}/tasks/{hashlib.sha256(f'{fn.name}:{dedup_key}'.encode()).hexdigest()[:40]}"
    try:
        clients.tasks().create_task(parent=parent, task=task)
    except AlreadyExists:
        log.info("task %s for %s already enqueued", dedup_key, fn.name)
        return False
    return True


def task_handler(name: str, body: type[BaseModel]) -> Callable[[Callable[[Any], Any]], Callable]:
    """Wrap `handler(payload)` as the entry point of task function `name` (answers: utalk.internal).

    A body that is not a valid `body` can never succeed, so it is acknowledged and logged (Cloud
    Tasks would otherwise retry it max_attempts times)."""
    from utalk import internal

    def parse(request):
        try:
            return body.model_validate_json(request.get_data())
        except ValidationError as exc:
            fields = sorted({".".join(str(p) for p in e["loc"]) or e["type"] for e in exc.errors(include_url=False)})
            raise internal.Drop("invalid_task", ", ".join(fields)[:200]) from None

    return internal.function(name, parse)
