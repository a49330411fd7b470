"""Creates what the manifest needs on the emulators: topics, push subscriptions, queues, bucket.

Idempotent: running it twice changes nothing. Push subscriptions and task targets point at each
function's own URL (`UTALK_FUNCTIONS_BASE_URL/<name>`), exactly as deploy wires production.
"""
from __future__ import annotations

from google.api_core import exceptions

from utalk import clients, manifest
from utalk.config import settings


def subscription_name(fn: manifest.Function) -> str:
    return f"{fn.topic}--{fn.name}"


def provision() -> None:
    from google.cloud import pubsub_v1
    from google.protobuf import duration_pb2

    cfg = settings()
    publisher = clients.publisher()
    for topic in manifest.TOPICS:
        try:
            publisher.create_topic(name=publisher.topic_path(cfg.project_id, topic))
        except exceptions.AlreadyExists:
            pass
    with pubsub_v1.SubscriberClient() as subscriber:
        for fn in manifest.FUNCTIONS:
            if not fn.topic:
                continue
            request = {
                "name": subscriber.subscription_path(cfg.project_id, subscription_name(fn)),
                "topic": publisher.topic_path(cfg.project_id, fn.topic),
                "push_config": {"push_endpoint": f"{cfg.functions_base_url}/{fn.name}"},
                "ack_deadline_seconds": max(10, min(600, fn.timeout_seconds)),
                "retry_policy": {"minimum_backoff": duration_pb2.Duration(seconds=1),
                                 "maximum_backoff": duration_pb2.Duration(seconds=60)},
            }
            try:
                subscriber.create_subscription(request=request)
            except exceptions.AlreadyExists:
                pass
    tasks = clients.tasks()
    parent = f"projects/{cfg.project_id}/locations/{cfg.region}"
    for q in manifest.QUEUES:
        queue = {
            "name": f"{parent}/queues/{q.name}",
            "rate_limits": {"max_dispatches_per_second": q.max_dispatches_per_second,
                            "max_concurrent_dispatches": q.max_concurrent_dispatches},
            "retry_config": {"max_attempts": q.max_attempts,
                             "min_backoff": duration_pb2.Duration(seconds=int(q.min_backoff_seconds)),
                             "max_backoff": duration_pb2.Duration(seconds=int(q.max_backoff_seconds))},
        }
        try:
            tasks.create_queue(parent=parent, queue=queue)
        except exceptions.AlreadyExists:
            pass
    storage = clients.storage()
    try:
        storage.create_bucket(cfg.bucket)
    except exceptions.Conflict:
        pass


if __name__ == "__main__":
    provision()
    print("provisioned topics, subscriptions, queues and bucket")
