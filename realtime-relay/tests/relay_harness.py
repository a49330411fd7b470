"""Helpers for the relay tests: relay processes, the Pub/Sub publisher, tokens, and the two clients.

Named apart from `conftest` on purpose: several conftest.py files live in this repository, and
`from conftest import ...` would pick whichever was imported first.
"""
from __future__ import annotations

import base64
import json
import os
import queue
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "shared"), str(ROOT), str(ROOT / "tests")]

from devstack.stack import VENV, test_stack  # noqa: E402
from realtime_support import in_order_client  # noqa: E402  (the main suite's: one copy)

STACK = test_stack()
STACK.apply_env()
JS_DIR = Path(__file__).resolve().parent / "js"
GRACE_SECONDS = 1.5
VISIBILITY_TTL_SECONDS = 1.0  # how long a relay trusts a workspace's agentVisibility (prod: 30)


class RelayProcess:
    """`python -m relay.server` as a child process, logging to the stack's state dir."""

    def __init__(self, name: str, port: int, extra_env: dict | None = None):
        self.name, self.port = name, port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = STACK.state_dir / f"{name}.log"
        STACK.state_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **STACK.env(), "PORT": str(port), "RELAY_INSTANCE_ID": name,
               "RELAY_PRESENCE_GRACE_SECONDS": str(GRACE_SECONDS), "LOG_LEVEL": "DEBUG",
               "RELAY_VISIBILITY_TTL_SECONDS": str(VISIBILITY_TTL_SECONDS),
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
def restart(relay: dict, name: str, client, timeout: float = 15.0) -> None:
    """SIGTERM the relay (it must exit 0), start it again on its port, and wait until `client`
    has seen the drop and reconnected."""
    assert relay["proc"].stop() == 0
    assert client.disconnected.wait(5)
    relay["proc"] = RelayProcess(name, relay["port"], relay["env"])
    deadline = time.monotonic() + timeout
    while not client.sio.connected and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.sio.connected, "client did not reconnect"


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def token(user: str, ws: str, role: str = "agent", now: float | None = None) -> str:
    from utalk.auth.tokens import issue_access_token
    return issue_access_token(user, role, ws, "tenant_test", now=now)[0]


class Publisher:
    """Publishes like the backend: single events to `realtime-events`, batches to `message-received`."""

    def __init__(self):
        from google.api_core import exceptions as gexc
        from google.cloud import pubsub_v1
        self.client = pubsub_v1.PublisherClient()
        self.topic = self.client.topic_path(STACK.project, "realtime-events")
        self.inbound_topic = self.client.topic_path(STACK.project, "message-received")
        # The relays create both topics with their subscriptions before they report healthy; this
        # only spares a publish a NotFound should a test run without them.
        for topic in (self.topic, self.inbound_topic):
            try:
                self.client.create_topic(name=topic)
            except gexc.AlreadyExists:
                pass

    @staticmethod
    def envelope(ws: str, event: str, payload, event_id: str | None = None) -> dict:
        return {"id": event_id or uuid.uuid4().hex, "event": event, "workspaceId": ws,
                "occurredAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "payload": payload}

    def event(self, ws: str, event: str, payload, audience: str = "workspace", **attrs) -> str:
        data = self.envelope(ws, event, payload)
        self.raw(json.dumps(data).encode(), event=event, workspaceId=ws, audience=audience, **attrs)
        return data["id"]

    def raw(self, data: bytes, **attrs) -> None:
        self.client.publish(self.topic, data, **attrs).result(timeout=10)

    def batch(self, ws: str, conversation_id: str, events: list[dict], audience: str = "workspace,conversation",
              message_id: str | None = None) -> None:
        """One `message-received` message carrying `events` (built with `envelope()`), as the webhook sends."""
        ids = {"workspaceId": ws, "conversationId": conversation_id, "messageId": message_id or new_id("msg")}
        self.client.publish(self.inbound_topic, json.dumps({**ids, "events": events}).encode(),
                            audience=audience, **ids).result(timeout=10)


# -- clients --------------------------------------------------------------------------------
class PyClient:
    """The python-socketio client, recording every event it receives in the order it arrived."""

    def __init__(self, url: str, auth=None, headers=None, connect: bool = True, transports=("websocket",)):
        self.sio = in_order_client(reconnection=False)
        self.transports = list(transports)
        self.events: queue.Queue = queue.Queue()
        self.received: list = []     # every (event, args), also those wait_for skipped (the contract checks)
        self.disconnected = threading.Event()
        self.connect_errors: list = []
        self.sio.on("connect_error", self.connect_errors.append)
        self.sio.on("*", self._record)
        self.sio.on("disconnect", lambda *a: self.disconnected.set())
        self.url, self.auth, self.headers = url, auth, headers or {}
        if connect:
            self.connect()

    def _record(self, name, *args):
        self.received.append((name, args))
        self.events.put((name, args))

    def connect(self):
        self.sio.connect(self.url, auth=self.auth, headers=self.headers, transports=self.transports,
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
        self.history: list[dict] = []  # every line, for happenings whose order relative to others varies
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.history.append(json.loads(line))
            self.lines.put(self.history[-1])
        self.lines.put({"type": "eof"})

    def saw(self, type_: str, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in list(self.history):
                if item["type"] == type_:
                    return item
            time.sleep(0.05)
        raise AssertionError(f"js client: never saw {type_} within {timeout}s")

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


# -- raw wire clients, for what the official clients never send ----------------------------------
def http_raw(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Sends bytes as they are and returns everything the server answers until it closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        got = b""
        try:
            while chunk := s.recv(65536):
                got += chunk
        except socket.timeout:
            pass
        return got


class RawWebSocket:
    """A hand-driven WebSocket client: exact frames (masked or not, reserved bits, fragments)."""

    def __init__(self, port: int, path: str = "/socket.io/?EIO=4&transport=websocket", headers=(),
                 version: str = "13"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        extra = "".join(f"{h}\r\n" for h in headers)
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           f"Sec-WebSocket-Version: {version}\r\n{extra}\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.head = head.decode("latin-1")
        self.status = int(self.head.split(" ")[1]) if self.head else 0

    def _read(self, n: int) -> bytes | None:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send_frame(self, opcode: int, payload: bytes, fin: bool = True, mask: bool = True, rsv: int = 0,
                   length: int | None = None) -> None:
        """`length` announces another size than the payload's (for oversized headers)."""
        n = len(payload) if length is None else length
        head = bytes([(0x80 if fin else 0) | rsv | opcode])
        bit = 0x80 if mask else 0
        if n < 126:
            head += bytes([bit | n])
        elif n < 65536:
            head += bytes([bit | 126]) + struct.pack("!H", n)
        else:
            head += bytes([bit | 127]) + struct.pack("!Q", n)
        if mask:
            key = os.urandom(4)
            k = (key * (len(payload) // 4 + 1))[:len(payload)]
            payload = (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(len(payload), "big") \
                if payload else b""
            head += key
        self.sock.sendall(head + payload)

    def send_text(self, text: str) -> None:
        self.send_frame(1, text.encode())

    def recv_frame(self) -> tuple[int | None, bytes]:
        """(opcode, payload); (None, b"") once the server closed the TCP connection."""
        try:
            head = self._read(2)
            if head is None:
                return None, b""
            n = head[1] & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(n) if n else b""
            return head[0] & 0x0F, payload or b""
        except (ConnectionResetError, socket.timeout):
            return None, b""

    def recv_text(self) -> str:
        while True:
            op, payload = self.recv_frame()
            if op == 1:
                return payload.decode()
            if op is None or op == 8:
                raise AssertionError(f"connection closed while waiting for text (close payload {payload!r})")

    def close_code(self) -> int | None:
        """Reads until the server's close frame; its status code (None if the TCP connection just ended)."""
        while True:
            op, payload = self.recv_frame()
            if op is None:
                return None
            if op == 8:
                return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None

    def closed(self, timeout: float = 5.0) -> bool:
        """Whether the server ends the TCP connection within `timeout`."""
        self.sock.settimeout(timeout)
        try:
            while self._read(1) is not None:
                pass
            return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()
