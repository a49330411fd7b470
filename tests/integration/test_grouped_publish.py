"""Concurrent publishes to one topic share a Publish on the Pub/Sub emulator; a message the
emulator refuses fails only its own publisher, and the others' messages arrive once."""
from __future__ import annotations

import time
import uuid
import warnings

from google.api_core import exceptions
from google.cloud import pubsub_v1

from utalk import clients, pubsub

from tests.coalesce_support import HeldFirstCall


class HeldTopic:
    """A fresh topic whose first Publish is held in flight until `queued` publishers wait behind it."""

    def __init__(self, monkeypatch, queued: int):
        self.topic = f"grouped-{uuid.uuid4().hex[:8]}"
        path = pubsub.topic_path(self.topic)
        clients.publisher().create_topic(name=path)
        self.subscriber = pubsub_v1.SubscriberClient()
        self.subscription = path.replace("/topics/", "/subscriptions/")
        self.subscriber.create_subscription(name=self.subscription, topic=path)
        self.line = HeldFirstCall(monkeypatch, pubsub._coalescer(path), queued)

    def publish_all(self, datas: list) -> list:
        """Publish each data concurrently, the first leading: ids or exceptions, in order."""
        def publish(data):
            return lambda: pubsub.send(self.topic, [pubsub.message(data)]).result(10)
        return self.line.run_all([publish(d) for d in datas])

    def received(self, expected: int) -> list[bytes]:
        """Everything the topic delivered: pulled until `expected` arrived, then once more for extras."""
        got, deadline, extra = [], time.monotonic() + 10, False
        while time.monotonic() < deadline and not extra:
            extra = len(got) >= expected
            with warnings.catch_warnings():  # the emulator answers at once only with this (deprecated) flag
                warnings.simplefilter("ignore", DeprecationWarning)
                resp = self.subscriber.pull(subscription=self.subscription, max_messages=100, timeout=5,
                                            return_immediately=True)
            got += [m.message.data for m in resp.received_messages]
            if resp.received_messages:
                self.subscriber.acknowledge(subscription=self.subscription,
                                            ack_ids=[m.ack_id for m in resp.received_messages])
        self.subscriber.delete_subscription(subscription=self.subscription)
        return sorted(got)


def test_publishers_waiting_behind_a_call_share_the_next_one(stack, monkeypatch):
    topic = HeldTopic(monkeypatch, queued=3)
    out = topic.publish_all([{"n": i} for i in range(4)])
    assert topic.line.calls == [1, 3]
    assert all(isinstance(ids, list) and len(ids) == 1 for ids in out)
    assert topic.received(4) == sorted(f'{{"n":{i}}}'.encode() for i in range(4))


def test_a_message_the_emulator_refuses_fails_only_its_publisher(stack, monkeypatch):
    topic = HeldTopic(monkeypatch, queued=3)
    out = topic.publish_all([{"n": 0}, {"n": 1}, b"", {"n": 3}])  # an empty message is INVALID_ARGUMENT
    assert topic.line.calls[:2] == [1, 3] and sorted(topic.line.calls[2:]) == [1, 1, 1]  # refused whole, then alone
    assert isinstance(out[2], exceptions.InvalidArgument)
    assert all(isinstance(out[i], list) for i in (0, 1, 3))
    assert topic.received(3) == [b'{"n":0}', b'{"n":1}', b'{"n":3}']  # each once
