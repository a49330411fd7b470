"""Helpers for the relay tests: relay processes, the Pub/Sub publisher, tokens, and the two clients.

Named apart from `conftest` on purpose: several conftest.py files live in this repository, and
`from conftest import ...` would pick whichever was imported first.
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]

from devstack.stack import VENV, test_stack  # noqa: E402

STACK = test_stack()
STACK.apply_env()
JS_DIR = Path(__file__).resolve().parent / "js"
GRACE_SECONDS = 1.5


class RelayProcess:
    """`python -m relay.server` as a child process, logging to the stack's state dir."""

    def __init__(self, name: str, port: int, extra_env: dict | None = None):
        self.name, self.port = name, port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = STACK.state_dir / f"{name}.log"
        STACK.state_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **STACK.env(), "PORT": str(port), "RELAY_INSTANCE_ID": name,
               "RELAY_PRESENCE_GRACE_SECONDS": str(GRACE_SECONDS), "LOG_LEVEL": "DEBUG",
               "PYTHONPATH": os.pathsep.join([str(ROOT / "realtime-relay"), str(ROOT / "shared")]),
               **(extra_env or {})}
        self.proc = subprocess.Popen([str(VENV / "bin/python"), "-m", "relay.server"], cwd=ROOT, env=env,
                                     stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited: {self.log_path.read_text()[-3000:]}")
            if self.health(timeout=0.5):
                return
            time.sleep(0.2)
        raise RuntimeError(f"{name} not healthy: {self.log_path.read_text()[-3000:]}")

    def health(self, timeout: float = 2.0) -> dict | None:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=timeout) as r:
                return json.loads(r.read())
        except Exception:
            return None

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


# -- data and tokens ------------------------------------------------------------------------
def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def token(user: str, ws: str, role: str = "agent", now: float | None = None) -> str:
    from utalk.auth.tokens import issue_access_token
    return issue_access_token(user, role, ws, "tenant_test", now=now)[0]


class Publisher:
    def __init__(self):
        from google.cloud import pubsub_v1
        self.client = pubsub_v1.PublisherClient()
        self.topic = self.client.topic_path(STACK.project, "realtime-events")

    def event(self, ws: str, event: str, payload, audience: str = "workspace", **attrs) -> str:
        event_id = uuid.uuid4().hex
        data = {"id": event_id, "event": event, "workspaceId": ws,
                "occurredAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "payload": payload}
        self.raw(json.dumps(data).encode(), event=event, workspaceId=ws, audience=audience, **attrs)
        return event_id

    def raw(self, data: bytes, **attrs) -> None:
        self.client.publish(self.topic, data, **attrs).result(timeout=10)


# -- clients --------------------------------------------------------------------------------
class PyClient:
    """The python-socketio client, recording every event it receives."""

    def __init__(self, url: str, auth=None, headers=None, connect: bool = True):
        import socketio
        self.sio = socketio.Client(reconnection=False)
        self.events: queue.Queue = queue.Queue()
        self.disconnected = threading.Event()
        self.connect_errors: list = []
        self.sio.on("connect_error", self.connect_errors.append)
        self.sio.on("*", lambda name, *args: self.events.put((name, args)))
        self.sio.on("disconnect", lambda *a: self.disconnected.set())
        self.url, self.auth, self.headers = url, auth, headers or {}
        if connect:
            self.connect()

    def connect(self):
        self.sio.connect(self.url, auth=self.auth, headers=self.headers, transports=["websocket"],
                         wait_timeout=10)

    def call(self, event: str, data=None, timeout: float = 10):
        return self.sio.call(event, data, timeout=timeout)

    def emit(self, event: str, *args):
        self.sio.emit(event, *args)

    def wait_for(self, name: str, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {name!r} event within {timeout}s")
            try:
                got, args = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if got == name:
                return args[0] if len(args) == 1 else args

    def drain(self, seconds: float) -> list:
        """Everything received during the next `seconds`."""
        time.sleep(seconds)
        got = []
        while True:
            try:
                got.append(self.events.get_nowait())
            except queue.Empty:
                return got

    def close(self):
        if self.sio.connected:
            self.sio.disconnect()


class JsClient:
    """The official socket.io-client in a node process (tests/js/client.js), read line by line."""

    def __init__(self, url: str, **cfg):
        if not (JS_DIR / "node_modules" / "socket.io-client").exists():
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, check=True,
                           capture_output=True, timeout=120)
        self.proc = subprocess.Popen(["node", str(JS_DIR / "client.js"), json.dumps({"url": url, **cfg})],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))
        self.lines.put({"type": "eof"})

    def wait_for(self, type_: str, name: str | None = None, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                item = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item["type"] == type_ and (name is None or item.get("name") == name):
                return item
            if item["type"] == "eof":
                break
        raise AssertionError(f"js client: no {type_} {name or ''} within {timeout}s")

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
