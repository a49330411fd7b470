"""`message-received` messages carry realtime events: emitted in order, to the message's audience,
once per event id however often Pub/Sub delivers the message."""
from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from relay_harness import token

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relay.dedup import LocalDedup  # noqa: E402
from relay.feed import Feed  # noqa: E402

QUIET = 1.0  # seconds to listen for something that must not arrive
INBOUND = "message-received--relay"


def _collect(client, count: int, timeout: float = 10.0) -> list:
    """(name, payload) of what arrives until `count` events came, then for QUIET more (for extras)."""
    got, deadline = [], time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        got += [(name, args[0]) for name, args in client.drain(0.1)]
    return got + [(name, args[0]) for name, args in client.drain(QUIET)]


class _Carrying:
    """A pulled `message-received` message carrying events e1, e2, e3 (no Pub/Sub: the feed's handler alone)."""
    message_id, delivery_attempt = "m1", 1
    attributes = {"workspaceId": "ws_1", "conversationId": "conv_1", "audience": "workspace"}
    data = json.dumps({"workspaceId": "ws_1", "events": [
        {"id": i, "event": "x", "workspaceId": "ws_1", "payload": {"id": i}} for i in ("e1", "e2", "e3")]})

    def __init__(self):
        self.publish_time, self.settled = datetime.now(timezone.utc), []

    def ack(self):
        self.settled.append("ack")

    def nack(self):
        self.settled.append("nack")


def _inbound_stats(relays) -> dict:
    """The `message-received` feed's counters, summed over the instances sharing its subscription."""
    total: dict = {}
    for relay in relays:
        [feed] = [f for f in relay.health()["feeds"] if f["subscription"].endswith("/" + INBOUND)]
        for key, value in feed["events"].items():
            total[key] = total.get(key, 0) + value
    return total


def test_every_relay_pulls_both_subscriptions(relays):
    for relay in relays:
        health = relay.health()
        assert health["status"] == "ok" and health["subscription"].endswith("/realtime-events--relay")
        assert [f["subscription"].rsplit("/", 1)[1] for f in health["feeds"]] == ["realtime-events--relay", INBOUND]
        assert all(f["pulling"] for f in health["feeds"])


def test_a_batch_reaches_the_message_audience_in_order(relay, world, clients, publisher):
    ws, conv = world["ws_a"], world["conv_a"]
    in_room = clients(relay.url, token(world["a1"], ws))
    workspace_only = clients(relay.url, token(world["a2"], ws))
    other = clients(relay.url, token(world["b1"], world["ws_b"]))
    assert in_room.call("conversation:join", {"conversationId": conv}) == {"ok": True}

    events = [publisher.envelope(ws, "conversation:new", {"n": 1}), publisher.envelope(ws, "message:new", {"n": 2}),
              publisher.envelope(ws, "conversation:updated", {"n": 3})]
    publisher.batch(ws, conv, events)
    expected = [(e["event"], e["payload"]) for e in events]
    # In order, and once each, though `in_room` is in both rooms the audience names.
    assert _collect(in_room, 3) == expected
    assert _collect(workspace_only, 3, timeout=1) == expected

    only_room = [publisher.envelope(ws, "message:new", {"n": 4})]
    publisher.batch(ws, conv, only_room, audience="conversation")
    assert _collect(in_room, 1) == [("message:new", {"n": 4})]
    assert workspace_only.drain(0) == []
    assert other.drain(0) == []  # workspace B heard nothing of workspace A


def test_a_redelivered_batch_emits_only_what_was_not_emitted(relays, world, clients, publisher):
    ws, conv = world["ws_a"], world["conv_a"]
    client = clients(relays[0].url, token(world["a1"], ws))
    first = [publisher.envelope(ws, "message:new", {"n": 1}), publisher.envelope(ws, "conversation:updated", {"n": 2})]
    publisher.batch(ws, conv, first, message_id="msg_same")
    assert _collect(client, 2) == [("message:new", {"n": 1}), ("conversation:updated", {"n": 2})]
    before = _inbound_stats(relays)

    publisher.batch(ws, conv, first, message_id="msg_same")  # what a redelivery or a webhook retry sends
    newer = publisher.envelope(ws, "message:new", {"n": 3})
    publisher.batch(ws, conv, [first[0], newer])               # one event already emitted, one new
    assert _collect(client, 1) == [("message:new", {"n": 3})]
    deadline = time.monotonic() + 10
    while (delta := _delta(before, _inbound_stats(relays)))["duplicates"] < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert delta["received"] == 2 and delta["emitted"] == 1 and delta["duplicates"] == 3
    assert client.drain(0) == []


def _delta(before: dict, after: dict) -> dict:
    return {key: after[key] - before[key] for key in after}


def test_malformed_batches_are_dropped_and_the_feed_goes_on(relay, world, clients, publisher):
    ws, conv = world["ws_a"], world["conv_a"]
    client = clients(relay.url, token(world["a1"], ws))
    # One event of another workspace spoils the whole message, the good event before it included.
    publisher.batch(ws, conv, [publisher.envelope(ws, "bad:batch", {}), publisher.envelope(world["ws_b"], "x", {})])
    publisher.batch(ws, conv, [])  # nothing to emit
    publisher.batch(ws, conv, [publisher.envelope(ws, "after:garbage", {"ok": True})])
    assert _collect(client, 1) == [("after:garbage", {"ok": True})]
    assert relay.health()["status"] == "ok"


def test_a_message_received_without_events_is_not_the_relays(relays, world, clients, publisher):
    # What the webhook published before it carried events, or any message meant only for the bot.
    ws, conv = world["ws_a"], world["conv_a"]
    client = clients(relays[0].url, token(world["a1"], ws))
    before = _inbound_stats(relays)
    ids = {"workspaceId": ws, "conversationId": conv, "messageId": "msg_bare"}
    publisher.client.publish(publisher.inbound_topic, json.dumps(ids).encode(), **ids).result(timeout=10)
    deadline = time.monotonic() + 10
    while _delta(before, _inbound_stats(relays))["received"] < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _delta(before, _inbound_stats(relays)) == {**{k: 0 for k in before}, "received": 1}  # not "dropped"
    assert client.drain(QUIET) == []


def test_an_emit_failing_part_way_nacks_and_the_redelivery_emits_the_rest():
    """The feed's handler on its own (no Pub/Sub): a socket server whose second emit fails once."""
    class Sio:
        def __init__(self):
            self.emitted, self.fail_next = [], {"e2"}

        async def emit(self, event, payload, room):
            if payload["id"] in self.fail_next:
                self.fail_next.discard(payload["id"])
                raise ConnectionError("redis down")
            self.emitted.append(payload["id"])

    sio = Sio()
    feed = Feed(sio, "p", "t", "s", LocalDedup(), max_messages=1, max_age_seconds=60)
    first, again = _Carrying(), _Carrying()
    asyncio.run(feed._handle(first))
    assert sio.emitted == ["e1"] and first.settled == ["nack"]  # e3 not tried: order is kept
    asyncio.run(feed._handle(again))
    assert sio.emitted == ["e1", "e2", "e3"] and again.settled == ["ack"]
    assert {k: feed.stats[k] for k in ("received", "emitted", "duplicates", "failed")} == \
        {"received": 2, "emitted": 3, "duplicates": 1, "failed": 1}


def test_two_copies_handled_at_once_still_emit_in_order_and_once():
    """Two copies of one message in flight together (a publish the client retried): the copy that
    finds the first event claimed waits until it is out, so the second event cannot overtake it."""
    class Sio:
        def __init__(self):
            self.emitted = []

        async def emit(self, event, payload, room):
            if payload["id"] == "e1":
                await asyncio.sleep(0.2)   # the first emit is slow (a busy socket, Redis)
            self.emitted.append(payload["id"])

    sio = Sio()
    feed = Feed(sio, "p", "t", "s", LocalDedup(), max_messages=2, max_age_seconds=60)
    first, copy = _Carrying(), _Carrying()

    async def both():
        await asyncio.gather(feed._handle(first), feed._handle(copy))
    asyncio.run(both())
    assert sio.emitted == ["e1", "e2", "e3"]
    assert first.settled == ["ack"] and copy.settled == ["ack"]


class _WebReply(_Carrying):
    """A pulled message carrying a bot's reply in a web chat's conversation (its visitor hears it too)."""
    conv = "conv_web:v1_web:wk_1"
    attributes = {"workspaceId": "ws_1", "conversationId": conv, "audience": "workspace,conversation"}
    data = json.dumps({"workspaceId": "ws_1", "events": [{"id": "e1", "event": "message:new", "workspaceId": "ws_1",
                                                          "payload": {"conversationId": conv, "message": {
                                                              "id": "msg_1", "direction": "outbound", "text": "hola",
                                                              "senderType": "bot", "status": "queued"}}}]})


def test_a_visitor_s_view_does_not_wait_for_the_agents_emit():
    """With Redis the agents' emit waits for its publish once delivered here; the visitor's view of
    the same event goes out meanwhile, and the message is acked once both are out."""
    class Sio:
        def __init__(self, failing: str | None = None):
            self.log, self.failing = [], failing

        async def emit(self, event, payload, room):
            self.log.append(f"{event} start")
            if event == "message:new":
                await asyncio.sleep(0.2)   # the agents' publish to a busy Redis
            if event == self.failing:
                raise ConnectionError("redis down")
            self.log.append(f"{event} done")

    sio = Sio()
    reply = _WebReply()
    asyncio.run(Feed(sio, "p", "t", "s", LocalDedup(), max_messages=1, max_age_seconds=60)._handle(reply))
    assert sio.log == ["message:new start", "message start", "message done", "message:new done"]
    assert reply.settled == ["ack"]

    sio, again = Sio(failing="message"), _WebReply()     # either failing still fails the event: redelivered
    feed = Feed(sio, "p", "t", "s", LocalDedup(), max_messages=1, max_age_seconds=60)
    asyncio.run(feed._handle(again))
    assert again.settled == ["nack"] and feed.stats["failed"] == 1 and feed.stats["emitted"] == 0
