"""Pub/Sub helpers: publishing JSON with attributes, and decoding a push delivery.

Publishing calls the Publish RPC on the client's own channel (utalk.rpc) instead of going through
`PublisherClient.publish`: that client batches in the background with a thread per batch and
proto-plus wrappers per message, ~1 ms of CPU per message on the inbound webhook, which waits
for every publish anyway. Events of one change for one topic go in one RPC, and concurrent
requests' publishes to one topic share RPCs (utalk/coalesce.py; a shared call refused for one
publisher's fault is sent again publisher by publisher); transient failures are retried with the
Publisher API's policy.

Pub/Sub-triggered functions receive a CloudEvent whose `data["message"]` holds base64 `data`
and `attributes` (functions-framework converts the emulator's raw push into that shape).
"""
from __future__ import annotations

import base64
import functools
import json
import time
from dataclasses import dataclass
from typing import Any

from utalk import clients, rpc
from utalk.coalesce import Coalescer
from utalk.config import settings


@dataclass(frozen=True)
class PushMessage:
    id: str
    data: bytes
    attributes: dict[str, str]
    delivery_attempt: int | None = None

    def json(self) -> Any:
        return json.loads(self.data or b"null")


class BadPush(ValueError):
    """A delivery that can never be processed (acknowledge it; redelivery cannot help)."""


def decode(cloud_event) -> PushMessage:
    data = cloud_event.data if hasattr(cloud_event, "data") else cloud_event
    message = (data or {}).get("message") if isinstance(data, dict) else None
    if not isinstance(message, dict):
        raise BadPush("no Pub/Sub message in the event")
    try:
        raw = base64.b64decode(message.get("data") or "")
    except (ValueError, TypeError):
        raise BadPush("message data is not base64") from None
    return PushMessage(id=str(message.get("messageId") or message.get("message_id") or ""),
                       data=raw, attributes=dict(message.get("attributes") or {}),
                       delivery_attempt=(data or {}).get("deliveryAttempt"))


def topic_path(topic: str) -> str:
    return f"projects/{settings().project_id}/topics/{topic}"


def message(data: Any, **attributes: str):
    """A PubsubMessage (raw protobuf) of JSON (or bytes) data with string attributes."""
    from google.pubsub_v1.types import PubsubMessage

    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":"), default=str).encode()
    return PubsubMessage.pb()(data=raw, attributes={k: str(v) for k, v in attributes.items() if v is not None})


class Publishing:
    """`messages` for one topic, published in order when `result()` (or `wait()`) is called,
    in one Publish RPC with whatever other threads publish to that topic meanwhile."""

    def __init__(self, topic: str, messages: list):
        self.path, self.messages = topic_path(topic), messages
        self._ids: list[str] | None = None

    def result(self, timeout: float = 30.0) -> list[str]:
        """The messages' Pub/Sub ids, once published."""
        if self._ids is None:
            self._ids = _coalescer(self.path).submit(self.messages, timeout)
        return self._ids


def publish(topic: str, data: Any, **attributes: str) -> Publishing:
    """Publishing one message; it goes out when `.result()` (or `wait()`) is called."""
    return send(topic, [message(data, **attributes)])


def send(topic: str, messages: list) -> Publishing:
    """Publishing `messages` (built with `message()`) together, on `.result()`."""
    return Publishing(topic, messages)


def wait(calls, timeout: float = 30.0) -> None:
    """Send publishes prepared together, in order, within one overall timeout."""
    deadline = time.monotonic() + timeout
    for call in calls:
        call.result(timeout=max(0.0, deadline - time.monotonic()))


# The Publisher API's default retry policy for Publish (these codes; 0.1 s initial delay, x4).
RETRYABLE = frozenset({"ABORTED", "CANCELLED", "DEADLINE_EXCEEDED", "INTERNAL", "RESOURCE_EXHAUSTED",
                       "UNAVAILABLE", "UNKNOWN"})


@functools.lru_cache(maxsize=64)
def _coalescer(path: str) -> Coalescer:
    from google.pubsub_v1.types import PublishRequest

    request, metadata = PublishRequest.pb(), _metadata(path)
    # A client error (say, INVALID_ARGUMENT for one empty message) refuses the whole shared call:
    # each caller then publishes alone, so only the one at fault fails.
    return Coalescer(lambda messages, timeout: _method().call(
        request(topic=path, messages=messages), metadata, timeout).message_ids,
        isolate=rpc.client_error)


def _method() -> rpc.Method:
    from google.pubsub_v1.types import PublishResponse

    return rpc.method(clients.publisher().transport.grpc_channel, "/google.pubsub.v1.Publisher/Publish",
                      PublishResponse.pb(), RETRYABLE, 4.0)


@functools.lru_cache(maxsize=64)
def _metadata(path: str) -> tuple:
    from google.api_core.gapic_v1.routing_header import to_grpc_metadata

    return (to_grpc_metadata((("topic", path),)),)
