"""Fixtures of the end-to-end tests."""
from __future__ import annotations

import pytest


@pytest.fixture
def relay_port(stack):
    """A relay of its own: its own port and subscriptions, so the relay tests' instances (which
    count what they consume from theirs) never share work with it; stopped after the test."""
    port = stack.ports.relay + 2000
    stack.start_relay(port=port, name="relay-e2e", extra_env={
        "RELAY_SUBSCRIPTION": "realtime-events--relay-e2e", "RELAY_INBOUND_SUBSCRIPTION": "message-received--relay-e2e"})
    yield port
    stack.stop("relay-e2e")
