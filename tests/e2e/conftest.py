"""Fixtures of the end-to-end tests, and the realtime contract check every one of them runs under:
each event a Socket.IO client receives from the relay, and each ack of a client event, must
validate against docs/asyncapi.json (an event the document lacks fails too)."""
from __future__ import annotations

import pytest
import socketio

from asyncapi_support import ack_violations, violations


@pytest.fixture(autouse=True)
def realtime_contract(monkeypatch):
    """Record what every socketio.Client of the test receives; fail the test on a contract violation
    (a web chat visitor's client, connected with `auth.visitor`, against the visitor events)."""
    received: list[tuple[str, tuple]] = []
    by_visitors: list[tuple[str, tuple]] = []
    calls: list[tuple[str, object]] = []
    trigger, call = socketio.Client._trigger_event, socketio.Client.call

    def recording_trigger(self, event, namespace, *args):
        visitor = isinstance(self.connection_auth, dict) and self.connection_auth.get("visitor") is True
        (by_visitors if visitor else received).append((event, args))
        return trigger(self, event, namespace, *args)

    def recording_call(self, event, data=None, *args, **kw):
        ack = call(self, event, data, *args, **kw)
        calls.append((event, ack))
        return ack

    monkeypatch.setattr(socketio.Client, "_trigger_event", recording_trigger)
    monkeypatch.setattr(socketio.Client, "call", recording_call)
    yield received
    problems = violations(received) + violations(by_visitors, visitor=True) + ack_violations(calls)
    assert not problems, "the relay broke docs/asyncapi.json:\n" + "\n".join(problems)


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
