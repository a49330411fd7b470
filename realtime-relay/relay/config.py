"""Relay settings read once from the environment (shared JWT/project settings live in utalk.config)."""
from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class RelayConfig:
    host: str
    port: int
    instance_id: str
    redis_url: str | None
    topic: str
    # One subscription shared by every instance: Pub/Sub hands each message to exactly one of
    # them, and that instance emits through the Redis manager to the sockets of all instances.
    subscription: str
    # The webhook's one publish per inbound message goes to this topic (the bot's), carrying the
    # realtime events too; None when disabled (RELAY_INBOUND_TOPIC set to "").
    inbound_topic: str | None
    inbound_subscription: str
    presence_grace_seconds: float
    events_per_minute: int
    visitor_events_per_minute: int    # web chat visitors' sockets: stricter (relay/visitors.py)
    max_event_bytes: int
    # Events older than this (a backlog after every relay was down) are dropped: clients
    # resynchronise over REST when they reconnect, so stale live updates only mislead.
    max_event_age_seconds: float
    pull_max_messages: int
    shutdown_grace_seconds: float
    # engine.io heartbeat: the server pings every interval; no pong within the timeout drops the socket.
    ping_interval_seconds: int
    ping_timeout_seconds: int
    # How long a workspace's agentVisibility is trusted before it is read again (a switch takes
    # effect within this time).
    visibility_ttl_seconds: float


def _instance_id() -> str:
    return os.environ.get("RELAY_INSTANCE_ID") or f"{socket.gethostname()[:20]}-{uuid.uuid4().hex[:8]}"


def load() -> RelayConfig:
    env = os.environ.get
    return RelayConfig(
        host=env("HOST", "127.0.0.1"),
        port=int(env("PORT", "3002")),
        instance_id=_instance_id(),
        redis_url=env("UTALK_REDIS_URL") or None,
        topic=env("RELAY_TOPIC", "realtime-events"),
        subscription=env("RELAY_SUBSCRIPTION", "realtime-events--relay"),
        inbound_topic=env("RELAY_INBOUND_TOPIC", "message-received") or None,
        inbound_subscription=env("RELAY_INBOUND_SUBSCRIPTION", "message-received--relay"),
        presence_grace_seconds=float(env("RELAY_PRESENCE_GRACE_SECONDS", "10")),
        events_per_minute=int(env("RELAY_EVENTS_PER_MINUTE", "50")),
        visitor_events_per_minute=int(env("RELAY_VISITOR_EVENTS_PER_MINUTE", "20")),
        max_event_bytes=int(env("RELAY_MAX_EVENT_BYTES", str(64 * 1024))),
        max_event_age_seconds=float(env("RELAY_MAX_EVENT_AGE_SECONDS", "120")),
        pull_max_messages=int(env("RELAY_PULL_MAX_MESSAGES", "1000")),
        shutdown_grace_seconds=float(env("RELAY_SHUTDOWN_GRACE_SECONDS", "5")),
        ping_interval_seconds=int(env("RELAY_PING_INTERVAL_SECONDS", "25")),
        ping_timeout_seconds=int(env("RELAY_PING_TIMEOUT_SECONDS", "20")),
        visibility_ttl_seconds=float(env("RELAY_VISIBILITY_TTL_SECONDS", "30")),
    )


@lru_cache(maxsize=1)
def config() -> RelayConfig:
    return load()
