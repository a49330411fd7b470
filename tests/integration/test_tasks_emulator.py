"""The local Cloud Tasks dispatches as Cloud Tasks does (devstack/tasks_emulator.py), through the
official client: each test creates its own queue aimed at a small recording HTTP server.

Timing assertions are lower bounds only (dispatches never come earlier or faster than allowed):
a slow, shared machine can only make them later."""
from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from google.api_core.exceptions import AlreadyExists, NotFound
from google.protobuf import duration_pb2, timestamp_pb2

from messaging_support import wait_for


class Recorder:
    """An HTTP target: /ok answers 200, /fail 400, /hold waits until released; records every request."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.in_flight = self.max_in_flight = 0
        self.release = threading.Event()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with recorder.lock:
                    recorder.in_flight += 1
                    recorder.max_in_flight = max(recorder.max_in_flight, recorder.in_flight)
                    recorder.requests.append({"path": self.path, "at": time.monotonic(), "headers": {k.lower(): v for k, v in self.headers.items()}})
                if self.path == "/hold":
                    recorder.release.wait(60)
                with recorder.lock:
                    recorder.in_flight -= 1
                self.send_response(400 if self.path == "/fail" else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_port}"

    def count(self, path: str) -> int:
        with self.lock:
            return sum(r["path"] == path for r in self.requests)

    def times(self, path: str) -> list[float]:
        with self.lock:
            return [r["at"] for r in self.requests if r["path"] == path]


@pytest.fixture
def recorder():
    rec = Recorder()
    yield rec
    rec.release.set()
    rec.server.shutdown()


@pytest.fixture
def make_queue(stack):
    """Create a queue of this test through the API; deleted afterwards."""
    from utalk import clients
    from utalk.config import settings

    client, made = clients.tasks(), []
    parent = f"projects/{settings().project_id}/locations/{settings().region}"

    def make(rate: float = 500, concurrency: int = 100, **retry) -> str:
        name = f"{parent}/queues/test-{uuid.uuid4().hex[:12]}"
        retry_config = {k: duration_pb2.Duration(seconds=int(v), nanos=int(round(v % 1 * 1e9)))
                        if k.endswith("backoff") else v for k, v in retry.items()}
        client.create_queue(parent=parent, queue={"name": name, "retry_config": retry_config, "rate_limits": {
            "max_dispatches_per_second": rate, "max_concurrent_dispatches": concurrency}})
        made.append(name)
        return name
    yield make
    for name in made:
        client.delete_queue(name=name)


def add(queue: str, url: str, name: str | None = None, delay: float = 0, oidc: dict | None = None):
    from utalk import clients

    task = {"http_request": {"url": url, "http_method": "POST", "body": b"{}"}}
    if oidc:
        task["http_request"]["oidc_token"] = oidc
    if name:
        task["name"] = f"{queue}/tasks/{name}"
    if delay:
        ts = timestamp_pb2.Timestamp()
        ts.FromDatetime(datetime.now(timezone.utc) + timedelta(seconds=delay))
        task["schedule_time"] = ts
    return clients.tasks().create_task(parent=queue, task=task)


def test_a_queue_of_concurrency_3_never_runs_4_at_once(recorder, make_queue):
    queue = make_queue(concurrency=3)
    for _ in range(10):
        add(queue, recorder.base + "/hold")
    wait_for(lambda: recorder.in_flight == 3)
    time.sleep(0.5)                          # room for a fourth to (wrongly) arrive
    assert recorder.in_flight == 3 and recorder.count("/hold") == 3
    recorder.release.set()
    wait_for(lambda: recorder.count("/hold") == 10 and recorder.in_flight == 0)
    assert recorder.max_in_flight == 3


def test_a_rate_of_5_per_second_is_not_exceeded(recorder, make_queue):
    queue = make_queue(rate=5)
    from utalk import clients
    burst = clients.tasks().get_queue(name=queue).rate_limits.max_burst_size
    for _ in range(20):
        add(queue, recorder.base + "/ok")
    wait_for(lambda: recorder.count("/ok") == 20, timeout=60)
    times = recorder.times("/ok")
    # Token bucket: within any span of t seconds at most burst + 5 t dispatches (+1 for the
    # arrival jitter of two requests sent back to back).
    for i in range(len(times)):
        for j in range(i + 1, len(times)):
            assert j - i + 1 <= burst + 5 * (times[j] - times[i]) + 1, (i, j, times[j] - times[i])
    assert times[-1] - times[0] >= (20 - burst - 1) / 5


def test_failed_tasks_back_off_as_the_retry_config_says(recorder, make_queue):
    queue = make_queue(min_backoff=0.2, max_backoff=2.0, max_doublings=2, max_attempts=5)
    add(queue, recorder.base + "/fail")
    wait_for(lambda: recorder.count("/fail") == 5, timeout=30)
    time.sleep(2.5)                          # past max_backoff: no sixth attempt after max_attempts
    assert recorder.count("/fail") == 5
    times = recorder.times("/fail")
    gaps = [b - a for a, b in zip(times, times[1:])]
    # 0.2 doubling twice (0.2, 0.4, 0.8), then growing linearly by 0.8 (1.6), capped at 2.0.
    for gap, expected in zip(gaps, [0.2, 0.4, 0.8, 1.6]):
        assert gap >= expected * 0.9, (gaps, expected)
    headers = [r["headers"] for r in recorder.requests]     # names lower-cased: HTTP ignores their case
    assert [h["x-cloudtasks-taskretrycount"] for h in headers] == ["0", "1", "2", "3", "4"]
    assert [h["x-cloudtasks-taskexecutioncount"] for h in headers] == ["0", "1", "2", "3", "4"]
    assert "x-cloudtasks-taskpreviousresponse" not in headers[0]
    assert headers[1]["x-cloudtasks-taskpreviousresponse"] == "400"


def test_task_names_are_unique_for_an_hour_and_tasks_can_be_deleted(recorder, make_queue):
    from utalk import clients

    queue = make_queue()
    add(queue, recorder.base + "/ok", name="once")
    with pytest.raises(AlreadyExists):
        add(queue, recorder.base + "/ok", name="once")          # still queued
    wait_for(lambda: recorder.count("/ok") == 1)
    wait_for(lambda: not list(clients.tasks().list_tasks(parent=queue)))
    with pytest.raises(AlreadyExists):
        add(queue, recorder.base + "/ok", name="once")          # executed: still taken
    later = add(queue, recorder.base + "/later", name="later", delay=30)
    assert clients.tasks().get_task(name=later.name).name == later.name
    clients.tasks().delete_task(name=later.name)
    with pytest.raises(NotFound):
        clients.tasks().get_task(name=later.name)
    with pytest.raises(AlreadyExists):
        add(queue, recorder.base + "/later", name="later")      # deleted: still taken
    time.sleep(0.3)
    assert recorder.count("/later") == 0 and recorder.count("/ok") == 1


def test_schedule_time_headers_and_the_oidc_token(recorder, make_queue, stack):
    from google.oauth2 import id_token

    from utalk.config import settings
    from utalk.internal_auth import CertsCache

    queue = make_queue()
    url = recorder.base + "/ok"
    created = time.monotonic()
    task = add(queue, url, delay=1.5, oidc={"service_account_email": settings().invoker_service_account})
    wait_for(lambda: recorder.count("/ok") == 1)
    [req] = recorder.requests
    assert req["at"] - created >= 1.4                     # not before its schedule_time
    h = req["headers"]
    assert h["x-cloudtasks-queuename"] == queue.rsplit("/", 1)[-1]
    assert h["x-cloudtasks-taskname"] == task.name.rsplit("/", 1)[-1]
    assert h["user-agent"] == "Google-Cloud-Tasks"
    scheme, token = h["authorization"].split(" ", 1)
    claims = id_token.verify_token(token, CertsCache(), audience=url, certs_url=settings().oidc_certs_url)
    assert scheme == "Bearer" and claims["email"] == settings().invoker_service_account \
        and claims["email_verified"] is True and claims["iss"] == "https://accounts.google.com"


def test_run_task_dispatches_a_paused_queues_task_at_once(recorder, make_queue):
    from utalk import clients

    queue = make_queue()
    clients.tasks().pause_queue(name=queue)
    task = add(queue, recorder.base + "/ok")
    time.sleep(0.5)
    assert recorder.count("/ok") == 0
    clients.tasks().run_task(name=task.name)
    wait_for(lambda: recorder.count("/ok") == 1)
