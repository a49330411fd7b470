"""Google Cloud clients, built once per instance on first use and reused across invocations.

Each emulator is honoured through its usual environment variable, with anonymous credentials,
so the local stack never needs a Google account.
"""
from __future__ import annotations

import os
import threading

from utalk.config import settings

_lock = threading.Lock()
_clients: dict[str, object] = {}


def _once(key: str, build):
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = build()
    return client


def _anonymous():
    from google.auth.credentials import AnonymousCredentials
    return AnonymousCredentials()


def firestore():
    def build():
        from google.cloud import firestore as fs
        return fs.Client(project=settings().project_id)
    return _once("firestore", build)


def publisher():
    def build():
        from google.cloud import pubsub_v1
        # Publish at once: callers wait for the id before acknowledging, so batching only adds latency.
        batch = pubsub_v1.types.BatchSettings(max_messages=100, max_latency=0.001)
        return pubsub_v1.PublisherClient(batch_settings=batch)
    return _once("publisher", build)


def storage():
    def build():
        from google.cloud import storage as gcs
        if os.environ.get("STORAGE_EMULATOR_HOST"):
            return gcs.Client(project=settings().project_id, credentials=_anonymous())
        return gcs.Client(project=settings().project_id)
    return _once("storage", build)


def tasks():
    def build():
        from google.cloud import tasks_v2
        host = os.environ.get("CLOUD_TASKS_EMULATOR_HOST")
        if host:
            import grpc
            from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport
            return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(
                channel=grpc.insecure_channel(host)))
        return tasks_v2.CloudTasksClient()
    return _once("tasks", build)


def reset() -> None:
    """Forget every client (after a fork, or when tests switch environment)."""
    with _lock:
        _clients.clear()
