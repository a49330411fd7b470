"""Pub/Sub helpers: publishing JSON with attributes, and decoding a push delivery.

Publishing goes straight to the Publish RPC (the client's own authenticated stub, as a gRPC
future) instead of through `PublisherClient.publish`: that client batches in the background with
a thread per batch and proto-plus wrappers per message, which cost ~1 ms of CPU per message on
the inbound webhook, where every publish is awaited anyway. Messages for one topic that are
started together go in one RPC; transient failures are retried with the Publisher API's policy.

Pub/Sub-triggered functions receive a CloudEvent whose `data["message"]` holds base64 `data`
and `attributes` (functions-framework converts the emulator's raw push into that shape).
"""
from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any

from utalk import clients
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


def publish(topic: str, data: Any, **attributes: str) -> "Publish":
    """Start publishing one message; returns the call (`.result()` waits for its id)."""
    return Publish(topic, [message(data, **attributes)])


def wait(calls, timeout: float = 30.0) -> None:
    """Wait for publishes started together (they run concurrently; this waits for the slowest)."""
    deadline = time.monotonic() + timeout
    for call in calls:
        call.result(timeout=max(0.0, deadline - time.monotonic()))


# The Publisher API's default retry policy for Publish (codes, 0.1 s initial delay, x4, 60 s cap).
RETRYABLE = frozenset({"ABORTED", "CANCELLED", "DEADLINE_EXCEEDED", "INTERNAL", "RESOURCE_EXHAUSTED",
                       "UNAVAILABLE", "UNKNOWN"})
ATTEMPT_TIMEOUT = 10.0


class Publish:
    """One Publish RPC in flight; `result()` returns the message ids, retrying transient errors."""

    def __init__(self, topic: str, messages: list):
        from google.api_core.gapic_v1.routing_header import to_grpc_metadata
        from google.pubsub_v1.types import PublishRequest

        path = topic_path(topic)
        self._request = PublishRequest.wrap(PublishRequest.pb()(topic=path, messages=messages))
        self._metadata = (to_grpc_metadata((("topic", path),)),)
        self._call = self._start()

    def _start(self):
        return clients.publisher().transport.publish.future(
            self._request, timeout=ATTEMPT_TIMEOUT, metadata=self._metadata)

    def result(self, timeout: float = 30.0) -> list[str]:
        import grpc
        from google.api_core import exceptions

        deadline, delay = time.monotonic() + timeout, 0.1
        while True:
            try:
                return list(self._call.result(timeout=max(0.0, deadline - time.monotonic())).message_ids)
            except grpc.FutureTimeoutError:
                self._call.cancel()
                raise exceptions.DeadlineExceeded(f"publish to {self._request.topic} timed out") from None
            except grpc.RpcError as err:
                if err.code().name not in RETRYABLE or time.monotonic() + delay >= deadline:
                    raise exceptions.from_grpc_error(err) from None
            time.sleep(delay)
            delay = min(delay * 4, 60.0)
            self._call = self._start()
