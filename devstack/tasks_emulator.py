"""The local Cloud Tasks: gcloud-tasks-emulator's gRPC API over a dispatcher that behaves like Cloud Tasks.

    .venv-tasks/bin/python devstack/tasks_emulator.py PORT     (the isolated tasks venv)

Upstream's servicer is kept (the API surface the official client talks to); its QueueState and
Processor are replaced, because they run one task per queue at a time, ignore the queue's rate,
concurrency, retry config and task names, and retry failures immediately. Here, as Cloud Tasks does:
- a queue dispatches up to `max_concurrent_dispatches` at once, at most `max_dispatches_per_second`
  (a token bucket holding `max_burst_size` tokens, refilled continuously at the rate; Cloud Tasks
  picks the burst from the rate, undocumented: here rate/5 rounded up, so 500/s gives its default
  100; an explicit `max_burst_size` in CreateQueue is honoured as queue.yaml's bucket_size is);
- `schedule_time` is honoured; a failed attempt (non-2xx, no answer, past `dispatch_deadline`) is
  retried after the queue's `retry_config` backoff (min_backoff doubling `max_doublings` times,
  then growing linearly, capped at max_backoff; a `Retry-After` on 429/503 is respected) until
  `max_attempts` or `max_retry_duration`;
- requests carry X-CloudTasks-QueueName / TaskName / TaskRetryCount / TaskExecutionCount /
  TaskETA / TaskPreviousResponse and, for `http_request.oidc_token`, an ID token minted with the
  stack's stand-in for Google's key (devstack/oidc.py; audience defaults to the URL);
- a task name is unique: CreateTask with a name still queued, or executed or deleted within the
  last hour, is ALREADY_EXISTS; DeleteTask and GetTask work (upstream has neither);
- RunTask dispatches at once, ignoring the rate limits and a pause.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import math
import re
import sys
import threading
import time
from concurrent import futures
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib import error, request

import grpc
from google.api_core.exceptions import AlreadyExists, FailedPrecondition, GoogleAPICallError, InvalidArgument, NotFound
from google.cloud.tasks_v2 import Attempt, HttpMethod, ListQueuesResponse, ListTasksResponse, Queue, Task
from google.protobuf import empty_pb2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devstack import oidc  # noqa: E402
from gcloud_tasks_emulator.cloudtasks_pb2_grpc import add_CloudTasksServicer_to_server  # noqa: E402
from gcloud_tasks_emulator.server import Greeter  # noqa: E402

log = logging.getLogger("tasks-emulator")

NAME_REUSE_SECONDS = 3600          # a used task name is refused this long after it ran or was deleted
DEFAULTS = {"max_dispatches_per_second": 500.0, "max_concurrent_dispatches": 1000, "max_attempts": 100,
            "min_backoff": 0.1, "max_backoff": 3600.0, "max_doublings": 16}
DEFAULT_DEADLINE, MIN_DEADLINE, MAX_DEADLINE = 600.0, 15.0, 1800.0
_TASK_ID = re.compile(r"^[A-Za-z0-9_-]{1,500}$")


def _seconds(duration) -> float:
    """A proto-plus Duration field (a timedelta) in seconds; 0 when unset."""
    return duration.total_seconds() if duration else 0.0


def burst_for(rate: float) -> int:
    return max(1, min(500, math.ceil(rate / 5)))


def backoff(queue: Queue, attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failed ones (Cloud Tasks' RetryConfig)."""
    rc = queue.retry_config
    low, high, doublings = _seconds(rc.min_backoff), _seconds(rc.max_backoff), rc.max_doublings
    if attempts - 1 < doublings:
        interval = low * 2 ** (attempts - 1)
    else:
        interval = low * 2 ** doublings * (attempts - doublings)
    return min(high, interval)


class Entry:
    """One task and what the dispatcher knows about it."""

    def __init__(self, task: Task, due: float):
        self.task, self.due = task, due
        self.first_attempt: float | None = None
        self.previous_status: int | None = None
        self.running = False


class QueueRuntime:
    def __init__(self, queue: Queue):
        self.queue = queue
        self.entries: dict[str, Entry] = {}
        self.ready: list[tuple[float, int, str]] = []     # (due, seq, task name); stale rows are skipped
        self.running = 0
        self.tokens = float(queue.rate_limits.max_burst_size)
        self.refilled = time.monotonic()

    def refill(self, now: float) -> None:
        limits = self.queue.rate_limits
        self.tokens = min(float(limits.max_burst_size),
                          self.tokens + (now - self.refilled) * limits.max_dispatches_per_second)
        self.refilled = now


class Queues:
    """Queue and task state, and the dispatcher thread that sends due tasks within each queue's limits."""

    def __init__(self):
        self._cond = threading.Condition()
        self._queues: dict[str, QueueRuntime] = {}
        self._used_names: dict[str, float] = {}          # task name -> monotonic time it may be reused
        self._seq = itertools.count()
        self._pool = futures.ThreadPoolExecutor(max_workers=256, thread_name_prefix="dispatch")
        threading.Thread(target=self._dispatch_forever, daemon=True, name="dispatcher").start()

    # -- queues ---------------------------------------------------------------------------------
    def _runtime(self, name: str) -> QueueRuntime:
        runtime = self._queues.get(name)
        if runtime is None:
            raise NotFound(f"Queue {name} does not exist")
        return runtime

    @staticmethod
    def _complete(queue: Queue, requested_burst: int = 0) -> Queue:
        """Cloud Tasks' defaults for what the request left unset, and the burst it derives."""
        limits, retry = queue.rate_limits, queue.retry_config
        limits.max_dispatches_per_second = limits.max_dispatches_per_second or DEFAULTS["max_dispatches_per_second"]
        limits.max_concurrent_dispatches = limits.max_concurrent_dispatches or DEFAULTS["max_concurrent_dispatches"]
        if limits.max_dispatches_per_second > 500 or limits.max_concurrent_dispatches > 5000:
            raise InvalidArgument("max_dispatches_per_second must be <= 500 and max_concurrent_dispatches <= 5000")
        limits.max_burst_size = requested_burst or burst_for(limits.max_dispatches_per_second)
        # proto3 cannot tell 0 from unset: 0 means "pick the default", as in Cloud Tasks.
        retry.max_attempts = retry.max_attempts or DEFAULTS["max_attempts"]
        retry.max_doublings = retry.max_doublings or DEFAULTS["max_doublings"]
        for field in ("min_backoff", "max_backoff"):
            if not _seconds(getattr(retry, field)):
                setattr(retry, field, timedelta(seconds=DEFAULTS[field]))
        return queue

    def create_queue(self, parent: str, queue: Queue) -> Queue:
        if not queue.name.startswith(parent + "/queues/"):
            raise InvalidArgument(f"queue name must be under {parent}")
        with self._cond:
            if queue.name in self._queues:
                raise AlreadyExists(f"Queue {queue.name} already exists")
            queue = self._complete(queue, queue.rate_limits.max_burst_size)
            queue.state = Queue.State.RUNNING
            self._queues[queue.name] = QueueRuntime(queue)
            return queue

    def update_queue(self, queue: Queue, paths: list[str]) -> Queue:
        """Apply the fields named by the update mask (all of rate_limits and retry_config without one)."""
        with self._cond:
            runtime = self._queues.get(queue.name)
            if runtime is None:
                return self.create_queue(queue.name.rsplit("/queues/", 1)[0], queue)
            merged, source = Queue.pb(runtime.queue), Queue.pb(queue)
            for path in paths or ["rate_limits", "retry_config"]:
                *parents, leaf = path.split(".")
                into, frm = merged, source
                for part in parents:
                    into, frm = getattr(into, part), getattr(frm, part)
                if frm.DESCRIPTOR.fields_by_name[leaf].message_type:
                    getattr(into, leaf).CopyFrom(getattr(frm, leaf))
                else:
                    setattr(into, leaf, getattr(frm, leaf))
            runtime.queue = self._complete(Queue.wrap(merged))
            runtime.tokens = min(runtime.tokens, float(runtime.queue.rate_limits.max_burst_size))
            self._cond.notify_all()
            return runtime.queue

    def get_queue(self, name: str) -> Queue:
        with self._cond:
            return self._runtime(name).queue

    def list_queues(self, parent: str) -> list[Queue]:
        with self._cond:
            return [r.queue for name, r in self._queues.items() if name.startswith(parent + "/")]

    def delete_queue(self, name: str) -> None:
        with self._cond:
            self._runtime(name)
            del self._queues[name]

    def set_state(self, name: str, state) -> Queue:
        with self._cond:
            runtime = self._runtime(name)
            runtime.queue.state = state
            self._cond.notify_all()
            return runtime.queue

    def purge_queue(self, name: str) -> Queue:
        with self._cond:
            runtime = self._runtime(name)
            for task_name in list(runtime.entries):
                self._forget(runtime, task_name)
            return runtime.queue

    # -- tasks ------------------------------------------------------------------------------------
    def create_task(self, parent: str, task: Task) -> Task:
        now = time.time()
        with self._cond:
            runtime = self._queues.get(parent)
            if runtime is None:
                raise FailedPrecondition(f"Queue {parent} does not exist")
            if task.name:
                prefix, _, task_id = task.name.rpartition("/tasks/")
                if prefix != parent or not _TASK_ID.match(task_id):
                    raise InvalidArgument(f"invalid task name {task.name}")
                self._expire_names()
                if task.name in runtime.entries or task.name in self._used_names:
                    raise AlreadyExists(f"Task {task.name} already exists or was used in the last hour")
            else:
                task.name = f"{parent}/tasks/{next(self._seq)}{int(now * 1e6)}"
            if not task.http_request.url:
                raise InvalidArgument("only HTTP tasks (http_request.url) are supported")
            task.http_request.http_method = task.http_request.http_method or HttpMethod.POST
            task.create_time = datetime.fromtimestamp(now, timezone.utc)
            due = task.schedule_time.timestamp() if task.schedule_time else now
            task.schedule_time = datetime.fromtimestamp(max(due, now), timezone.utc)
            runtime.entries[task.name] = Entry(task, due)
            heapq.heappush(runtime.ready, (due, next(self._seq), task.name))
            self._cond.notify_all()
            return task

    def get_task(self, name: str) -> Task:
        with self._cond:
            entry = self._runtime(name.rsplit("/tasks/", 1)[0]).entries.get(name)
            if entry is None:
                raise NotFound(f"Task {name} does not exist")
            return entry.task

    def list_tasks(self, parent: str) -> list[Task]:
        with self._cond:
            return [e.task for e in self._runtime(parent).entries.values()]

    def delete_task(self, name: str) -> None:
        with self._cond:
            runtime = self._runtime(name.rsplit("/tasks/", 1)[0])
            if name not in runtime.entries:
                raise NotFound(f"Task {name} does not exist")
            self._forget(runtime, name)

    def run_task(self, name: str) -> Task:
        with self._cond:
            runtime = self._runtime(name.rsplit("/tasks/", 1)[0])
            entry = runtime.entries.get(name)
            if entry is None:
                raise NotFound(f"Task {name} does not exist")
            if not entry.running:
                self._start(runtime, entry)
            return entry.task

    def _forget(self, runtime: QueueRuntime, name: str) -> None:
        runtime.entries.pop(name, None)
        self._used_names[name] = time.monotonic() + NAME_REUSE_SECONDS

    def _expire_names(self) -> None:
        now = time.monotonic()
        for name in [n for n, until in self._used_names.items() if until <= now]:
            del self._used_names[name]

    # -- dispatch ---------------------------------------------------------------------------------
    def _dispatch_forever(self) -> None:
        while True:
            with self._cond:
                wait = self._dispatch_due()
                self._cond.wait(timeout=wait)

    def _dispatch_due(self) -> float:
        """Start every task that is due and within its queue's limits; seconds until one may be."""
        now_wall, now = time.time(), time.monotonic()
        wait = 1.0
        for runtime in self._queues.values():
            if runtime.queue.state != Queue.State.RUNNING:
                continue
            runtime.refill(now)
            limits = runtime.queue.rate_limits
            while runtime.ready:
                due, _, name = runtime.ready[0]
                entry = runtime.entries.get(name)
                if entry is None or entry.running or entry.due != due:
                    heapq.heappop(runtime.ready)             # deleted, running or rescheduled since
                    continue
                if due > now_wall:
                    wait = min(wait, due - now_wall)
                    break
                if runtime.running >= limits.max_concurrent_dispatches:
                    break                                     # a finishing dispatch notifies
                if runtime.tokens < 1:
                    wait = min(wait, (1 - runtime.tokens) / limits.max_dispatches_per_second)
                    break
                heapq.heappop(runtime.ready)
                runtime.tokens -= 1
                self._start(runtime, entry)
        return max(wait, 0.001)

    def _start(self, runtime: QueueRuntime, entry: Entry) -> None:
        entry.running = True
        runtime.running += 1
        entry.task.dispatch_count += 1
        self._pool.submit(self._attempt, runtime, entry)

    def _attempt(self, runtime: QueueRuntime, entry: Entry) -> None:
        task = entry.task
        started = time.time()
        entry.first_attempt = entry.first_attempt or started
        status, retry_after = _send(runtime.queue, task, entry.previous_status)
        with self._cond:
            runtime.running -= 1
            entry.running = False
            attempt = Attempt(schedule_time=task.schedule_time, dispatch_time=datetime.fromtimestamp(started, timezone.utc),
                              response_time=datetime.now(timezone.utc), response_status={"code": status})
            task.first_attempt = task.first_attempt or attempt
            task.last_attempt = attempt
            if status is not None and status < 500:
                task.response_count += 1
            entry.previous_status = status
            if runtime.entries.get(task.name) is not entry:
                pass                                            # deleted while it ran
            elif status is not None and 200 <= status < 300:
                self._forget(runtime, task.name)
            elif self._gives_up(runtime.queue, entry):
                log.warning("giving up %s after %d attempts (last status %s)", task.name, task.dispatch_count, status)
                self._forget(runtime, task.name)
            else:
                delay = max(backoff(runtime.queue, task.dispatch_count), retry_after or 0)
                entry.due = time.time() + delay
                task.schedule_time = datetime.fromtimestamp(entry.due, timezone.utc)
                heapq.heappush(runtime.ready, (entry.due, next(self._seq), task.name))
            self._cond.notify_all()

    @staticmethod
    def _gives_up(queue: Queue, entry: Entry) -> bool:
        rc = queue.retry_config
        if rc.max_attempts != -1 and entry.task.dispatch_count >= rc.max_attempts:
            return True
        limit = _seconds(rc.max_retry_duration)
        return bool(limit) and time.time() - entry.first_attempt > limit


def _send(queue: Queue, task: Task, previous_status: int | None) -> tuple[int | None, float | None]:
    """One HTTP attempt: (status or None when no answer came, Retry-After seconds)."""
    http = task.http_request
    headers = {"Content-Type": "application/octet-stream", **dict(http.headers)}
    headers.update({
        "User-Agent": "Google-Cloud-Tasks",
        "X-CloudTasks-QueueName": queue.name.rsplit("/", 1)[-1],
        "X-CloudTasks-TaskName": task.name.rsplit("/", 1)[-1],
        "X-CloudTasks-TaskRetryCount": str(task.dispatch_count - 1),
        "X-CloudTasks-TaskExecutionCount": str(task.response_count),
        "X-CloudTasks-TaskETA": f"{task.schedule_time.timestamp():.6f}",
    })
    if previous_status is not None:
        headers["X-CloudTasks-TaskPreviousResponse"] = str(previous_status)
    token = http.oidc_token
    if token.service_account_email:
        headers["Authorization"] = "Bearer " + oidc.mint(token.audience or http.url, token.service_account_email)
    deadline = min(MAX_DEADLINE, max(MIN_DEADLINE, _seconds(task.dispatch_deadline) or DEFAULT_DEADLINE))
    req = request.Request(http.url, data=http.body or None, method=http.http_method.name, headers=headers)
    try:
        with request.urlopen(req, timeout=deadline) as resp:
            resp.read()
            return resp.status, None
    except error.HTTPError as exc:
        exc.read()
        retry_after = exc.headers.get("Retry-After") if exc.code in (429, 503) else None
        return exc.code, float(retry_after) if retry_after and retry_after.isdigit() else None
    except Exception as exc:   # refused, reset, past the dispatch deadline: no answer
        log.warning("no answer from %s for %s: %s", http.url, task.name, exc)
        return None, None


class Servicer(Greeter):
    """Upstream's servicer (same RPCs, same error mapping) over `Queues`, plus the RPCs it lacks."""

    def __init__(self, queues: Queues):
        super().__init__(queues)
        self._queues = queues

    def _call(self, context, fn, *args):
        try:
            return fn(*args)
        except GoogleAPICallError as err:
            context.abort(err.grpc_status_code, err.message)

    def CreateQueue(self, request, context):
        return self._call(context, self._queues.create_queue, request.parent, request.queue)

    def UpdateQueue(self, request, context):
        paths = list(request.update_mask.paths) if request.update_mask else []
        return self._call(context, self._queues.update_queue, request.queue, paths)

    def GetQueue(self, request, context):
        return self._call(context, self._queues.get_queue, request.name)

    def ListQueues(self, request, context):
        return ListQueuesResponse(queues=self._call(context, self._queues.list_queues, request.parent))

    def DeleteQueue(self, request, context):
        self._call(context, self._queues.delete_queue, request.name)
        return empty_pb2.Empty()

    def PauseQueue(self, request, context):
        return self._call(context, self._queues.set_state, request.name, Queue.State.PAUSED)

    def ResumeQueue(self, request, context):
        return self._call(context, self._queues.set_state, request.name, Queue.State.RUNNING)

    def PurgeQueue(self, request, context):
        return self._call(context, self._queues.purge_queue, request.name)

    def CreateTask(self, request, context):
        return self._call(context, self._queues.create_task, request.parent, request.task)

    def GetTask(self, request, context):
        return self._call(context, self._queues.get_task, request.name)

    def ListTasks(self, request, context):
        return ListTasksResponse(tasks=self._call(context, self._queues.list_tasks, request.parent))

    def DeleteTask(self, request, context):
        self._call(context, self._queues.delete_task, request.name)
        return empty_pb2.Empty()

    def RunTask(self, request, context):
        return self._call(context, self._queues.run_task, request.name)


def main(port: int) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
    add_CloudTasksServicer_to_server(Servicer(Queues()), server)
    server.add_insecure_port(f"127.0.0.1:{port}")   # loopback only (upstream binds every interface)
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    main(int(sys.argv[1]))
