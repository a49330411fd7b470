"""Fixtures of the end-to-end tests."""
from __future__ import annotations

import pytest


@pytest.fixture
def relay_port(stack):
    """A relay of its own: its own port and subscriptions, so the relay tests' instances (which
    count what they consume from theirs) never share work with it; stopped after the test."""
    port = stack.ports.relay + 2000
    stack.start_relay(port=port, name="relay-e2e", extra_env={
        "RELAY_SUBSCRIPTION": "realtime-events--relay-e2e", "RELAY_INBOUND_SUBSCRIPTION": "message-received--relay-e2e",
        # A dropped agent goes offline after 1 s instead of 10 (the presence tests wait for it).
        "RELAY_PRESENCE_GRACE_SECONDS": "1"})
    yield port
    stack.stop("relay-e2e")
