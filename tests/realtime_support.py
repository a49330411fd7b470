"""Reading realtime events in tests the way the relay does: `realtime-events` messages, plus the
events a `message-received` message carries (an inbound message announces itself once)."""
from __future__ import annotations

import json
import uuid
import warnings

TOPICS = ("realtime-events", "message-received")


E2E_RELAY = "relay-e2e"


def start_e2e_relay(stack, port: int) -> None:
    """The e2e tests' relay: a deployment of its own. Its own subscriptions, and no Redis: the relay
    tests' session-long instances share this stack's Redis, and through it they would claim some of
    an event batch's events (relay/dedup.py) and emit them to this relay's sockets from another
    instance, out of the batch's order. A dropped agent goes offline after 1 s instead of 10 (the
    presence tests wait for it)."""
    stack.start_relay(port=port, name=E2E_RELAY, extra_env={
        "RELAY_SUBSCRIPTION": "realtime-events--relay-e2e", "RELAY_INBOUND_SUBSCRIPTION": "message-received--relay-e2e",
        "UTALK_REDIS_URL": "", "RELAY_PRESENCE_GRACE_SECONDS": "1"})


def in_order_client(**options):
    """A python-socketio client whose handlers run in the order the events arrived. The stock one
    runs each event's handler on a thread of its own (engineio's `run_async`), so three events the
    relay sent in order can be recorded in any order. Handlers here must not block: they run on the
    connection's read loop."""
    import engineio
    import socketio

    class InOrderEngine(engineio.Client):
        def _trigger_event(self, event, *args, **kwargs):
            return super()._trigger_event(event, *args, **{**kwargs, "run_async": False})

    class InOrderClient(socketio.Client):
        def _engineio_client_class(self):
            return InOrderEngine

    return InOrderClient(**options)


class RealtimeReader:
    """Pull subscriptions of its own on both topics; `pull()` returns every event so far as
    `{"attributes": ..., **envelope}`, in arrival order, a carried batch expanded in its order."""

    def __init__(self):
        from google.cloud import pubsub_v1

        from utalk.config import settings

        self.sub = pubsub_v1.SubscriberClient()
        project, tag = settings().project_id, uuid.uuid4().hex[:8]
        self.names = [self.sub.subscription_path(project, f"test-{topic}-{tag}") for topic in TOPICS]
        for name, topic in zip(self.names, TOPICS):
            self.sub.create_subscription(name=name, topic=f"projects/{project}/topics/{topic}")
        self.seen: list[dict] = []

    def pull(self) -> list[dict]:
        for name in self.names:
            with warnings.catch_warnings():  # the emulator answers at once only with this (deprecated) flag
                warnings.simplefilter("ignore", DeprecationWarning)
                resp = self.sub.pull(subscription=name, max_messages=500, timeout=5, return_immediately=True)
            if not resp.received_messages:
                continue
            self.sub.acknowledge(subscription=name, ack_ids=[m.ack_id for m in resp.received_messages])
            for m in resp.received_messages:
                attributes, data = dict(m.message.attributes), json.loads(m.message.data)
                batch = data["events"] if "events" in data else [data]
                # A carried event has the message's audience and is named by its own `event`.
                self.seen.extend({"attributes": {**attributes, "event": e["event"]}, **e} for e in batch)
        return self.seen

    def close(self) -> None:
        for name in self.names:
            self.sub.delete_subscription(subscription=name)
        self.sub.close()
