"""Fixtures of the end-to-end tests, and the realtime contract check every one of them runs under:
each event a Socket.IO client receives from the relay, and each ack of a client event, must
validate against docs/asyncapi.json (an event the document lacks fails too)."""
from __future__ import annotations

import pytest
import socketio

from asyncapi_support import ack_violations, violations
from realtime_support import E2E_RELAY, start_e2e_relay


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
    """A relay of its own (realtime_support.start_e2e_relay): its own port, subscriptions and no
    shared Redis, so the relay tests' instances never share work with it; stopped after the test."""
    port = stack.ports.relay + 2000
    start_e2e_relay(stack, port)
    yield port
    stack.stop(E2E_RELAY)
