"""Fixtures for the security-rules tests: the emulators (no gateway) and one seeded data set.

Rules tests need only the Firestore emulator started with `--rules firestore.rules`, which
`devstack.stack` does; they do not need the gateway, so they do not use the `stack` fixture
(and run even while some HTTP function of the manifest is still missing).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from devstack.stack import http_ok, test_stack

from rules_client import Browser, unsigned_id_token
from seed_data import IDENTITIES, seed


def _started_by_this_session(stack) -> bool:
    """Is the Firestore emulator of this stack a child of this pytest process (its `stack` fixture)?

    Then it is shared, not restarted: restarting would pull the emulators from under the gateway.
    Anything else on the port is a leftover of an earlier run, which start_emulators() replaces.
    """
    pidfile = stack.state_dir / "firestore.pid"
    try:
        stat = Path(f"/proc/{int(pidfile.read_text())}/stat").read_text()
    except (OSError, ValueError):
        return False
    ppid = int(stat.rsplit(")", 1)[1].split()[1])
    return ppid == os.getpid() and http_ok(f"http://127.0.0.1:{stack.ports.firestore}/")


@pytest.fixture(scope="session")
def emulators():
    """The test stack's emulators, started here unless this session's `stack` fixture runs them."""
    stack = test_stack()
    started = not _started_by_this_session(stack)
    if started:
        stack.start_emulators()
    try:
        yield stack
    finally:
        if started:
            stack.stop()


@pytest.fixture(scope="module")
def seeded(emulators):
    """Two workspaces' worth of documents, written as the owner (the Admin SDK bypasses rules).

    Seeded once per module: client writes are refused, so the data cannot change between tests
    (the write tests check that too).
    """
    emulators.reset_firestore()
    seed()
    # Another stack bound to the same ports without --rules (e.g. a bench run) would answer in
    # place of ours and every denial would "fail"; say so once instead of hundreds of times.
    probe = Browser(f"127.0.0.1:{emulators.ports.firestore}", emulators.project)
    if probe.get("workspaces/ws_a/conversations/conv_a1").status_code != 403:
        pytest.fail(f"the Firestore emulator on port {emulators.ports.firestore} does not enforce "
                    "firestore.rules: another stack is using this port offset (UTALK_TEST_PORT_OFFSET)")
    return emulators


@pytest.fixture(scope="module")
def browser(seeded):
    """browser(name) -> a client signed in as seed_data.IDENTITIES[name] (unsigned test ID token)."""
    host = f"127.0.0.1:{seeded.ports.firestore}"

    def make(name: str) -> Browser:
        claims = IDENTITIES[name]
        if claims is None:
            return Browser(host, seeded.project)
        claims = dict(claims)
        uid, provider = claims.pop("uid"), claims.pop("provider", "custom")
        return Browser(host, seeded.project, unsigned_id_token(seeded.project, uid, provider=provider, **claims))

    return make
