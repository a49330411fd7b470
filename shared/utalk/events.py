"""Publishing realtime events to the `realtime-events` topic (format in docs/architecture.md).

The audience travels in the attributes so the relay routes without parsing the payload; rooms
are always prefixed by the workspace, so an event never reaches another workspace.
"""
from __future__ import annotations

import uuid

from utalk import pubsub
from utalk.models.common import Output, iso_utc, utcnow
from utalk.models.events import EVENT_PAYLOADS

TOPIC = "realtime-events"


def envelope(event: str, workspace_id: str, payload: Output) -> dict:
    expected = EVENT_PAYLOADS[event]
    if not isinstance(payload, expected):
        raise TypeError(f"{event} takes a {expected.__name__} payload")
    return {"id": f"evt_{uuid.uuid4()}", "event": event, "workspaceId": workspace_id,
            "occurredAt": iso_utc(utcnow()), "payload": payload.model_dump(mode="json")}


def message(event: str, workspace_id: str, payload: Output, *, conversation_id: str | None = None,
            agent_id: str | None = None, workspace: bool = True):
    """One event as a Pub/Sub message; the audience (who may see it) goes in the attributes."""
    audience = [name for name, on in (("workspace", workspace), ("conversation", conversation_id),
                                      ("agent", agent_id)) if on]
    return pubsub.message(envelope(event, workspace_id, payload), event=event, workspaceId=workspace_id,
                          audience=",".join(audience), conversationId=conversation_id, agentId=agent_id)


def publish(event: str, workspace_id: str, payload: Output, **audience):
    """Publish one event; returns the call (callers send all of theirs with `pubsub.wait`)."""
    return publish_all([message(event, workspace_id, payload, **audience)])


def publish_all(messages: list):
    """Publish events built with `message()` in one RPC (one change that several events describe)."""
    return pubsub.send(TOPIC, messages)
