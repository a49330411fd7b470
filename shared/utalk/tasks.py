"""Cloud Tasks: enqueueing HTTP tasks to a function's own URL, and the decorator task handlers use.

A task targets `{functions_base_url}/<function name>` on the queue the manifest gives that function,
so the queue's rate and concurrency are the limits the function runs under. Task handlers are plain
HTTP functions with no user auth (in production only the tasks service account may invoke them;
set UTALK_TASKS_SERVICE_ACCOUNT to attach its OIDC token). Answering 2xx means done; anything else
makes Cloud Tasks retry with backoff, so a handler only fails for what a retry could fix.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable

from google.api_core.exceptions import AlreadyExists
from pydantic import BaseModel, ValidationError

from utalk import clients, errors, logs, manifest
from utalk.config import settings

if TYPE_CHECKING:
    import flask

log = logs.get("tasks")


def queue_path(queue: str) -> str:
    cfg = settings()
    return f"projects/{cfg.project_id}/locations/{cfg.region}/queues/{queue}"


def enqueue(function_name: str, payload: BaseModel | dict, *, delay_seconds: float = 0,
            dedup_key: str | None = None) -> bool:
    """Create one HTTP task for manifest function `function_name`; False if the name was taken.

    `dedup_key` names the task, so production Cloud Tasks drops a second task for the same key (a
    redelivered Pub/Sub message enqueues nothing twice). The emulator ignores names, which is why
    every handler is idempotent anyway.
    """
    fn = manifest.get(function_name)
    if not fn.queue:
        raise ValueError(f"{function_name} is not a Cloud Tasks function")
    body = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    request: dict[str, Any] = {
        "http_method": "POST",
        "url": f"{settings().functions_base_url}/{fn.name}",
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body, separators=(",", ":")).encode(),
    }
    account = os.environ.get("UTALK_TASKS_SERVICE_ACCOUNT")
    if account:
        request["oidc_token"] = {"service_account_email": account}
    task: dict[str, Any] = {"http_request": request}
    if delay_seconds > 0:
        from google.protobuf import timestamp_pb2
        ts = timestamp_pb2.Timestamp()
        ts.FromDatetime(datetime.now(timezone.utc) + timedelta(seconds=delay_seconds))
        task["schedule_time"] = ts
    parent = queue_path(fn.queue)
    if dedup_key:
        # Hashed names spread over the queue's key space (sequential names make hot tablets).
        task["name"] = f"{parent}/tasks/{hashlib.sha256(f'{fn.name}:{dedup_key}'.encode()).hexdigest()[:40]}"
    try:
        clients.tasks().create_task(parent=parent, task=task)
    except AlreadyExists:
        log.info("task %s for %s already enqueued", dedup_key, fn.name)
        return False
    return True


class Retry(Exception):
    """Raise from a task handler to answer 503 and have Cloud Tasks try again later."""


def task_handler(name: str, body: type[BaseModel]) -> Callable[[Callable[[Any], Any]], Callable]:
    """Wrap `handler(payload)` as the HTTP entry point of task function `name`.

    Malformed bodies answer 400; the handler's return value (dict or None) is the 200 body; a
    domain `ApiError` is logged and acknowledged (200, `dropped`), since no retry can change it;
    `Retry` and `errors.Unavailable` (e.g. transaction contention) answer 503; an unexpected exception is logged and answers 500 so the task is retried
    with the queue's backoff.
    """
    manifest.get(name)  # fail at import time on a name the manifest does not know
    from utalk import http  # handlers run under functions-framework; enqueuers (the relay) need no Flask

    def reply(data: dict, status: int = 200) -> flask.Response:
        return http.json_response(data, status)

    def refuse(err: errors.ApiError) -> flask.Response:
        return http.error_response(err)

    def wrap(handler):
        def entry(request: flask.Request) -> flask.Response:
            started = time.perf_counter()
            attempt = request.headers.get("X-CloudTasks-TaskRetryCount", "0")
            if request.method != "POST":
                return refuse(errors.MethodNotAllowed("POST only"))
            try:
                payload = body.model_validate_json(request.get_data() or b"{}")
            except ValidationError as exc:
                log.warning("rejected malformed task body for %s", name, extra={"function": name})
                return refuse(errors.BadRequest("Task body is invalid", code="invalid_task",
                                                details=exc.errors(include_url=False, include_input=False)))
            try:
                result = handler(payload) or {}
            except errors.Unavailable as exc:   # contention and the like: a retry can fix it
                log.warning("task %s will be retried: %s", name, exc.message, extra={"function": name})
                return refuse(errors.Unavailable(exc.message, code=exc.code))
            except errors.ApiError as exc:
                # A domain refusal (the conversation was closed meanwhile, an id that names nothing):
                # retrying cannot change it, and any non-2xx would be retried, so acknowledge it.
                log.warning("task %s dropped: %s (%s)", name, exc.message, exc.code, extra={"function": name})
                return reply({"ok": False, "dropped": exc.code})
            except Retry as exc:
                log.warning("task %s asks for a retry: %s", name, exc, extra={"function": name})
                return refuse(errors.Unavailable(str(exc), code="retry"))
            except Exception:
                log.exception("task %s failed (attempt %s)", name, attempt, extra={"function": name})
                return refuse(errors.ApiError("Internal error", code="internal", status=500))
            log.info("task %s done", name, extra={"function": name, "attempt": attempt,
                                                  "latencyMs": round((time.perf_counter() - started) * 1000, 1)})
            return reply({"ok": True, **result})

        entry.__name__ = name
        entry.__doc__ = handler.__doc__
        entry.handler = handler
        return entry

    return wrap
