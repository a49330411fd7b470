"""Several instances on one Redis: exactly-once delivery across instances, reconnect, SIGTERM."""
from __future__ import annotations

import json
import time
import uuid

import pytest

from relay_harness import STACK, Publisher, PyClient, RelayProcess, restart, token


def _ids(client: PyClient, event: str, seconds: float) -> list[str]:
    return [args[0]["i"] for name, args in client.drain(seconds) if name == event]


def test_event_consumed_by_one_instance_reaches_the_other_exactly_once(relays, world, clients, publisher):
    a, b = relays
    on_a = clients(a.url, token(world["a1"], world["ws_a"]))
    on_b = clients(b.url, token(world["a2"], world["ws_a"]))
    before = {r.name: r.health()["events"]["emitted"] for r in relays}
    sent = [f"e{i}" for i in range(30)]
    for i in sent:
        publisher.event(world["ws_a"], "cluster:event", {"i": i})
    deadline = time.monotonic() + 10
    got_a, got_b = [], []
    while time.monotonic() < deadline and (len(got_a) < 30 or len(got_b) < 30):
        got_a += _ids(on_a, "cluster:event", 0.2)
        got_b += _ids(on_b, "cluster:event", 0.2)
    got_a += _ids(on_a, "cluster:event", 0.5)
    got_b += _ids(on_b, "cluster:event", 0)
    assert sorted(got_a) == sorted(sent) and sorted(got_b) == sorted(sent)  # all, and no duplicates
    emitted = {r.name: r.health()["events"]["emitted"] - before[r.name] for r in relays}
    assert sum(emitted.values()) == 30  # each event consumed by exactly one instance


@pytest.fixture
def relay_c(emulators):
    """A third instance, the only consumer of its own topic (its `message-received` feed is off):
    what it consumes reaches A and B only through Redis. Stopped (and restarted) by the tests themselves."""
    topic = f"realtime-events-c-{uuid.uuid4().hex[:6]}"
    env = {"RELAY_TOPIC": topic, "RELAY_SUBSCRIPTION": f"{topic}--relay", "RELAY_INBOUND_TOPIC": ""}
    port = STACK.ports.relay + 1001
    proc = RelayProcess("relay-c", port, env)
    pub = Publisher()
    pub.topic = pub.client.topic_path(STACK.project, topic)
    holder = {"proc": proc, "pub": pub, "port": port, "env": env}
    yield holder
    holder["proc"].stop()


def test_emit_from_one_instance_reaches_sockets_on_another_once(relays, relay_c, world, clients):
    a, b = relays
    assert [f["topic"] for f in relay_c["proc"].health()["feeds"]] == [relay_c["pub"].topic]  # one feed
    on_b = clients(b.url, token(world["a1"], world["ws_a"]))
    assert on_b.call("conversation:join", {"conversationId": world["conv_a"]}) == {"ok": True}
    relay_c["pub"].event(world["ws_a"], "via:redis", {"i": "x"}, audience="workspace,conversation",
                         conversationId=world["conv_a"])
    assert on_b.wait_for("via:redis") == {"i": "x"}
    # The same event id delivered again (a Pub/Sub redelivery) is not emitted twice.
    same = uuid.uuid4().hex
    for _ in range(2):
        data = {"id": same, "event": "via:redis", "workspaceId": world["ws_a"], "occurredAt": "", "payload": {"i": "y"}}
        relay_c["pub"].raw(json.dumps(data).encode(), audience="workspace")
    assert _ids(on_b, "via:redis", 1.5) == ["y"]
    assert relay_c["proc"].health()["events"]["duplicates"] == 1


def test_sigterm_drains_and_clients_reconnect(relay_c, world):
    ws, user = world["ws_a"], world["a1"]
    client = PyClient(relay_c["proc"].url, connect=False, auth={"token": token(user, ws)})
    client.sio.reconnection = True
    client.sio.reconnection_delay = 0.2
    client.sio.reconnection_delay_max = 0.5
    client.connect()
    try:
        # One event through first, so the instance stops with a live pull stream to close cleanly
        # (a stream only cut, not half-closed, strands later messages for their ack deadline).
        relay_c["pub"].event(ws, "before:restart", {"ok": True})
        assert client.wait_for("before:restart") == {"ok": True}
        restart(relay_c, "relay-c", client)  # SIGTERM: exit 0, then the client reconnects
        time.sleep(0.3)  # the server-side connect handler has run once the client saw the ack
        relay_c["pub"].event(ws, "after:restart", {"ok": True})
        assert client.wait_for("after:restart") == {"ok": True}
    finally:
        client.sio.reconnection = False
        client.close()
