"""The local push service (devstack/pusher.py) against the Pub/Sub emulator: it keeps many pushes in
flight (the emulator's own push keeps two), never more than its cap, sends Pub/Sub's push format
with the token it is given, acknowledges 2xx, and retries anything else after the backoff with the
delivery attempt counted."""
from __future__ import annotations

import base64
import threading
import time
import uuid

import pytest
from google.cloud import pubsub_v1
from http_support import Endpoint

from devstack.pusher import Pusher, backoff_seconds


@pytest.fixture
def channel(stack):
    """A fresh topic with a pull subscription (dead-lettering, so attempts are counted) and a subscriber."""
    from utalk.config import settings

    project, tag = settings().project_id, uuid.uuid4().hex[:8]
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic, dead = (publisher.topic_path(project, f"push-test-{tag}{s}") for s in ("", "-dead"))
    for t in (topic, dead):
        publisher.create_topic(name=t)
    name = subscriber.subscription_path(project, f"push-test-{tag}")
    subscriber.create_subscription(request={"name": name, "topic": topic, "ack_deadline_seconds": 10,
                                            "dead_letter_policy": {"dead_letter_topic": dead,
                                                                   "max_delivery_attempts": 5}})
    pushers = []

    def push(endpoint, **kwargs):
        p = Pusher(name, endpoint.url, **kwargs)
        p.start(subscriber)
        pushers.append(p)
        return p

    def publish(data: bytes, **attributes):
        return publisher.publish(topic, data, **attributes).result()

    yield push, publish, name
    for p in pushers:
        p.stop()
    subscriber.delete_subscription(subscription=name)


def wait_until(check, timeout=20):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_many_pushes_are_in_flight_at_once(channel):
    push, publish, _ = channel
    together = threading.Barrier(8, timeout=15)     # breaks (the test fails) unless 8 are in flight together

    def answer(body):
        together.wait()
        return 200
    endpoint = Endpoint(answer)
    try:
        push(endpoint, min_backoff=1, max_backoff=2)
        for i in range(8):
            publish(f"m{i}".encode())
        wait_until(lambda: len(endpoint.calls) >= 8)
        time.sleep(0.5)
        assert endpoint.most_in_flight == 8 and not together.broken
    finally:
        endpoint.close()


def test_in_flight_pushes_never_exceed_the_cap(channel):
    push, publish, _ = channel
    endpoint = Endpoint(lambda body: time.sleep(0.3) or 200)
    try:
        push(endpoint, max_outstanding=3, min_backoff=1, max_backoff=2)
        for i in range(12):
            publish(f"m{i}".encode())
        wait_until(lambda: len(endpoint.calls) >= 12)
        assert endpoint.most_in_flight == 3
    finally:
        endpoint.close()


def test_push_format_token_and_acknowledgement(channel):
    push, publish, name = channel
    endpoint = Endpoint(lambda body: 204)
    try:
        push(endpoint, token=lambda: "the-token", min_backoff=1, max_backoff=2)
        message_id = publish(b'{"hello": "world"}', workspaceId="ws_1")
        wait_until(lambda: endpoint.calls)
        time.sleep(2.5)                                   # an unacknowledged push would be back by now
        assert len(endpoint.calls) == 1
        _, headers, body = endpoint.calls[0]
        assert headers["Authorization"] == "Bearer the-token"
        assert body["subscription"] == name and body["deliveryAttempt"] == 1
        message = body["message"]
        assert base64.b64decode(message["data"]) == b'{"hello": "world"}'
        assert message["attributes"] == {"workspaceId": "ws_1"}
        assert message["messageId"] == message_id and message["publishTime"].endswith("Z")
    finally:
        endpoint.close()


def test_a_failed_push_is_retried_after_the_backoff(channel):
    push, publish, _ = channel
    endpoint = Endpoint(lambda body: 503 if body.get("deliveryAttempt") == 1 else 200)
    try:
        push(endpoint, min_backoff=2, max_backoff=4)
        publish(b"x")
        wait_until(lambda: len(endpoint.calls) >= 2)
        time.sleep(2.5)
        (first, _, one), (second, _, two) = endpoint.calls[0], endpoint.calls[1]
        assert len(endpoint.calls) == 2                       # the 200 was acknowledged
        assert (one["deliveryAttempt"], two["deliveryAttempt"]) == (1, 2)
        assert one["message"]["messageId"] == two["message"]["messageId"]
        assert second - first >= 1.5                          # hidden for the backoff, not redelivered at once
    finally:
        endpoint.close()


def test_backoff_doubles_from_the_minimum_to_the_maximum():
    assert [backoff_seconds(a, 1, 60) for a in (1, 2, 3, 4, 7, 8, 20)] == [1, 2, 4, 8, 60, 60, 60]
