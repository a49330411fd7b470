"""Reading realtime events in tests the way the relay does: `realtime-events` messages, plus the
events a `message-received` message carries (an inbound message announces itself once)."""
from __future__ import annotations

import json
import uuid
import warnings

TOPICS = ("realtime-events", "message-received")


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
