"""Test fixtures: one real local stack per test session (emulators + gateway), data reset per test.

The environment points at the test stack before anything imports `utalk`, so in-process helpers
and the gateway subprocess talk to the same emulators.
"""
from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]

from devstack.stack import test_stack  # noqa: E402

STACK = test_stack()
STACK.apply_env()


@pytest.fixture(scope="session")
def stack():
    """Emulators, provisioning and the gateway, started once for the whole session."""
    from devstack.provision import provision

    try:
        STACK.start_emulators()
        provision()
        STACK.start_gateway(workers=int(os.environ.get("UTALK_TEST_GATEWAY_WORKERS", "2")))
        STACK.start_pusher()
        yield STACK
    finally:
        STACK.stop()


@pytest.fixture
def clean(stack):
    """A fresh Firestore for each test, on real time (a test may move the clock: utalk/clock.py)."""
    from utalk import clock

    stack.reset_firestore()
    clock.set(None)
    yield stack
    clock.set(None)


class Api:
    """requests against the gateway, with an optional bearer token, from one client address.

    Each client has its own address in X-Forwarded-For, the entry Google's front end appends in
    production (utalk.http.client_ip), so per-IP limits count each test's clients on their own.
    """

    def __init__(self, base: str, token: str | None = None, ip: str | None = None):
        self.base, self.token = base, token
        self.ip = ip or f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
        self.session = requests.Session()

    def with_token(self, token: str | None) -> "Api":
        return Api(self.base, token, self.ip)

    def from_ip(self, ip: str) -> "Api":
        return Api(self.base, self.token, ip)

    def request(self, method: str, path: str, **kw) -> requests.Response:
        headers = kw.pop("headers", {}) or {}
        if self.token and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.token}"
        headers.setdefault("X-Forwarded-For", self.ip)
        return self.session.request(method, self.base + path, headers=headers, timeout=30, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


@pytest.fixture
def api(clean) -> Api:
    return Api(f"http://127.0.0.1:{clean.ports.gateway}")


@pytest.fixture(scope="module")
def module_api(stack) -> Api:
    """A fresh Firestore once per module, for tests that share what a module fixture builds."""
    stack.reset_firestore()
    return Api(f"http://127.0.0.1:{stack.ports.gateway}")


def _running(fake):
    """A fake's server for the whole session."""
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def _twilio_server(stack):
    """The fake Twilio REST API on the stack's port for it (the gateway's twilio client calls it)."""
    from fakes.twilio_server import FakeTwilio

    yield from _running(FakeTwilio(stack.ports.twilio_api))


@pytest.fixture
def twilio(_twilio_server):
    _twilio_server.reset()
    return _twilio_server


@pytest.fixture(scope="session")
def _openai_server(stack):
    """The fake OpenAI API on the stack's port for it (the gateway's openai client calls it)."""
    from fakes.openai_server import FakeOpenAI

    yield from _running(FakeOpenAI(stack.ports.openai_api))


@pytest.fixture
def openai_fake(_openai_server):
    _openai_server.reset()
    return _openai_server


@pytest.fixture(scope="session")
def _graph_server(stack):
    """The fake Graph API on the stack's port for it (the gateway's Messenger adapter calls it)."""
    from fakes.graph_server import FakeGraph

    yield from _running(FakeGraph(stack.ports.graph_api))


@pytest.fixture
def graph(_graph_server):
    _graph_server.reset()
    return _graph_server
