"""Pub/Sub helpers: publishing JSON with attributes, and decoding a push delivery.

Publishing calls the Publish RPC on the client's own channel (utalk.rpc) instead of going through
`PublisherClient.publish`: that client batches in the background with a thread per batch and
proto-plus wrappers per message, ~1 ms of CPU per message on the inbound webhook, which waits
for every publish anyway. Events of one change for one topic go in one RPC, and concurrent
requests' publishes to one topic share RPCs (utalk/coalesce.py; a shared call refused for one
publisher's fault is sent again publisher by publisher); transient failures are retried with the
Publisher API's policy.

Every message published while a trace is active carries its id in the `traceId` attribute.

Subscribers are HTTP functions behind push subscriptions (OIDC push auth, a retry policy and a
dead-letter topic; devstack/provision.py): `push_handler` decodes the wrapped push body
`{"message": {"data": base64, "attributes", "messageId", ...}, "subscription"}`, restores the trace
and acknowledges (logs and counts, utalk.internal) what can never be decoded.
"""
from __future__ import annotations

import base64
import binascii
import functools
import json
import time
from dataclasses import dataclass
from typing import Any, Callable

from utalk import clients, logs, rpc
from utalk.coalesce import Coalescer
from utalk.config import settings


MAX_ATTRIBUTES = 100        # Pub/Sub's own limit per message
MAX_ATTRIBUTE_BYTES = 1024  # Pub/Sub's limit on an attribute value


@dataclass(frozen=True)
class PushMessage:
    id: str
    data: bytes
    attributes: dict[str, str]
    delivery_attempt: int | None = None

    def json(self) -> Any:
        return json.loads(self.data or b"null")

    def attributes_as(self, model):
        """The attributes validated as pydantic `model`; Drop when they are not (no redelivery of
        the same message could ever be processed)."""
        from pydantic import ValidationError

        from utalk import internal

        try:
            return model.model_validate({k: self.attributes.get(k) for k in model.model_fields})
        except ValidationError as exc:
            fields = sorted({str(e["loc"][0]) for e in exc.errors(include_url=False) if e["loc"]})
            raise internal.Drop("invalid_attributes", ", ".join(fields)) from None


class BadPush(ValueError):
    """A delivery that can never be processed (acknowledge it; redelivery cannot help)."""


def decode(body: bytes) -> PushMessage:
    """The message of a wrapped push request body; BadPush for anything Pub/Sub would never send."""
    try:
        envelope = json.loads(body)
    except (ValueError, RecursionError):   # RecursionError: JSON nested deeper than the parser goes
        raise BadPush("push body is not JSON") from None
    message = envelope.get("message") if isinstance(envelope, dict) else None
    if not isinstance(message, dict):
        raise BadPush("no Pub/Sub message in the push body")
    data, attributes = message.get("data") or "", message.get("attributes") or {}
    message_id = message.get("messageId") or message.get("message_id") or ""
    if not isinstance(data, str) or not isinstance(message_id, str) or not isinstance(attributes, dict):
        raise BadPush("push message fields have the wrong types")
    if len(attributes) > MAX_ATTRIBUTES or not all(
            isinstance(k, str) and isinstance(v, str) and len(v) <= MAX_ATTRIBUTE_BYTES for k, v in attributes.items()):
        raise BadPush("push message attributes are not short strings")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadPush("message data is not base64") from None
    attempt = envelope.get("deliveryAttempt")
    return PushMessage(id=message_id[:200], data=raw, attributes=attributes,
                       delivery_attempt=attempt if isinstance(attempt, int) else None)


def push_handler(name: str) -> Callable[[Callable[[PushMessage], Any]], Callable]:
    """Wrap `handler(message)` as the entry point of push-subscribed function `name` (answers:
    utalk.internal); the message's `traceId` attribute becomes the trace of its log lines."""
    from utalk import internal

    def parse(request) -> PushMessage:
        try:
            msg = decode(request.get_data())
        except BadPush as exc:
            raise internal.Drop("invalid_push", str(exc)) from None
        trace_id = logs.trace_id_from(msg.attributes.get(logs.TRACE_ATTRIBUTE))
        if trace_id:
            logs.trace.set(logs.trace_path(settings().project_id, trace_id))
        return msg

    return internal.function(name, parse)


def topic_path(topic: str) -> str:
    return f"projects/{settings().project_id}/topics/{topic}"


def message(data: Any, **attributes: str):
    """A PubsubMessage (raw protobuf) of JSON (or bytes) data with string attributes."""
    from google.pubsub_v1.types import PubsubMessage

    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":"), default=str).encode()
    attrs = {k: str(v) for k, v in attributes.items() if v is not None}
    trace_id = logs.current_trace_id()
    if trace_id:
        attrs.setdefault(logs.TRACE_ATTRIBUTE, trace_id)
    return PubsubMessage.pb()(data=raw, attributes=attrs)


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
