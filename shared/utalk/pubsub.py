"""Pub/Sub helpers: publishing JSON with attributes, and decoding a push delivery.

Pub/Sub-triggered functions receive a CloudEvent whose `data["message"]` holds base64 `data`
and `attributes` (functions-framework converts the emulator's raw push into that shape).
"""
from __future__ import annotations

import base64
import json
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


def publish(topic: str, data: Any, **attributes: str):
    """Publish JSON (or bytes) with string attributes; returns the future (call .result())."""
    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":"), default=str).encode()
    attrs = {k: str(v) for k, v in attributes.items() if v is not None}
    return clients.publisher().publish(topic_path(topic), raw, **attrs)


def wait(futures, timeout: float = 30.0) -> None:
    """Wait for publishes started together (they run concurrently; this waits for the slowest)."""
    for f in futures:
        f.result(timeout=timeout)
