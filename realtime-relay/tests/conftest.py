"""Fixtures for the relay tests: the real emulators, two relay processes on one Redis, and clients.

The emulators come from `devstack.stack.test_stack()` (ports shifted by UTALK_TEST_PORT_OFFSET);
when another fixture of the same session already runs them they are reused, not restarted.
Two relay instances share the Pub/Sub subscription and the Redis manager, as in production.
Test data uses fresh workspace ids per test, so tests never need a Firestore reset.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from relay_harness import STACK, Publisher, PyClient, RelayProcess, new_id  # noqa: E402  (sets sys.path)

from devstack.stack import port_open  # noqa: E402


@pytest.fixture(scope="session")
def emulators():
    p = STACK.ports
    if all(port_open(x) for x in (p.firestore, p.pubsub, p.redis)):
        yield STACK  # started by another fixture of this session
        return
    STACK.start_emulators()
    try:
        yield STACK
    finally:
        STACK.stop()


@pytest.fixture(scope="session")
def relays(emulators):
    """Instances A and B: same subscription, same Redis."""
    a = RelayProcess("relay-a", STACK.ports.relay)
    try:
        b = RelayProcess("relay-b", STACK.ports.relay + 1000)
    except Exception:
        a.stop()
        raise
    yield a, b
    for r in (a, b):
        r.stop()


@pytest.fixture
def relay(relays):
    return relays[0]


@pytest.fixture(scope="session")
def db(emulators):
    from google.cloud import firestore
    return firestore.Client(project=STACK.project)


@pytest.fixture
def world(db):
    """Two workspaces (default visibility: agents see everything), each with one conversation and two agents."""
    w = {"ws_a": new_id("ws"), "ws_b": new_id("ws"), "conv_a": new_id("conv"), "conv_b": new_id("conv"),
         "a1": new_id("u"), "a2": new_id("u"), "b1": new_id("u")}
    for ws in (w["ws_a"], w["ws_b"]):
        db.document(f"workspaces/{ws}").set({"tenantId": "tenant_test", "settings": {}})
    db.document(f"workspaces/{w['ws_a']}/conversations/{w['conv_a']}").set({"status": "open"})
    db.document(f"workspaces/{w['ws_b']}/conversations/{w['conv_b']}").set({"status": "open"})
    return w


@pytest.fixture(scope="session")
def publisher(relays):
    return Publisher()


@pytest.fixture
def clients():
    """Factory for python clients, all closed after the test."""
    made: list = []

    def make(url: str, tok: str | None = None, **kw) -> PyClient:
        c = PyClient(url, auth={"token": tok} if tok else kw.pop("auth", None), **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        try:
            c.close()
        except Exception:
            pass
