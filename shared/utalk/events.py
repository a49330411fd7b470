"""Publishing realtime events (format in docs/architecture.md).

An event is one message on the `realtime-events` topic, or one of the `events` another topic's
message carries for the relay (`carrying()`: an inbound message's `message-received` carries the
events it causes, so the webhook publishes once). The audience travels in the attributes; rooms
are always prefixed by the workspace, so an event never reaches another workspace.
"""
from __future__ import annotations

import uuid

from utalk import pubsub
from utalk.models.common import Output, iso_utc, utcnow
from utalk.models.events import EVENT_PAYLOADS

TOPIC = "realtime-events"


def envelope(event: str, workspace_id: str, payload: Output, event_id: str | None = None) -> dict:
    """The event's JSON; `event_id` (default random) is what the relay deduplicates on."""
    expected = EVENT_PAYLOADS[event]
    if not isinstance(payload, expected):
        raise TypeError(f"{event} takes a {expected.__name__} payload")
    return dumped(event, workspace_id, payload.model_dump(mode="json"), event_id)


def dumped(event: str, workspace_id: str, payload: dict, event_id: str | None = None,
           occurred_at: str | None = None) -> dict:
    """An event whose payload is already its model's JSON dump: the inbound hot path builds it
    directly (services/inbound.py, checked equal to the model's dump by its tests)."""
    return {"id": event_id or f"evt_{uuid.uuid4()}", "event": event, "workspaceId": workspace_id,
            "occurredAt": occurred_at or iso_utc(utcnow()), "payload": payload}


def audience(*, conversation_id: str | None = None, agent_id: str | None = None, workspace: bool = True) -> dict:
    """The routing attributes: who may see an event."""
    names = [name for name, on in (("workspace", workspace), ("conversation", conversation_id),
                                   ("agent", agent_id)) if on]
    return {"audience": ",".join(names), "conversationId": conversation_id, "agentId": agent_id}


def message(event: str, workspace_id: str, payload: Output, *, conversation_id: str | None = None,
            agent_id: str | None = None, workspace: bool = True, event_id: str | None = None):
    """One event as a Pub/Sub message; the audience (who may see it) goes in the attributes.
    A derived `event_id` lets a retried handler publish it again without it being shown twice."""
    return pubsub.message(envelope(event, workspace_id, payload, event_id), event=event, workspaceId=workspace_id,
                          **audience(conversation_id=conversation_id, agent_id=agent_id, workspace=workspace))


def carrying(data: dict, envelopes: list[dict], attributes: dict):
    """A message of another topic that also carries events (built with `envelope()`) for the relay.

    The relay subscribes to that topic too and emits each event, in order, to the audience in
    `attributes` (see `audience()`), which must name the workspace (`workspaceId`)."""
    return pubsub.message({**data, "events": envelopes}, **attributes)


def publish(event: str, workspace_id: str, payload: Output, **audience):
    """Publish one event; returns the call (callers send all of theirs with `pubsub.wait`)."""
    return publish_all([message(event, workspace_id, payload, **audience)])


def publish_all(messages: list):
    """Publish events built with `message()` in one RPC (one change that several events describe)."""
    return pubsub.send(TOPIC, messages)
