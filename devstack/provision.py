"""Creates what the manifest needs on the emulators: topics, push subscriptions, queues, bucket.

Idempotent: running it twice changes nothing. The request builders (`subscription_request`,
`queue_request`) are what deploy sends to Google too, so the local wiring is the production wiring:
- every push subscription authenticates its pushes with an OIDC token of the invoker service
  account whose audience is the function's own URL (`functions_base_url/<name>`), retries with
  the manifest's backoff and, after `manifest.MAX_DELIVERY_ATTEMPTS`, moves the message to the one
  dead-letter topic `manifest.DEAD_LETTER_TOPIC` (kept by its pull subscription for inspection);
- every queue gets the manifest's rates, concurrency and retry settings.
Only push differs locally: the emulator pushes two messages at a time per subscription, so each
push subscription is created as that request minus its push config, and devstack/pusher.py, the
stand-in for Google's push service, delivers it concurrently with the token the config names.
"""
from __future__ import annotations


from google.api_core import exceptions
from google.protobuf import duration_pb2

from utalk import manifest
from utalk.config import Settings, settings


def subscription_name(fn: manifest.Function) -> str:
    return f"{fn.topic}--{fn.name}"


def _duration(seconds: float) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=int(seconds), nanos=int(round((seconds % 1) * 1e9)))


def subscription_request(fn: manifest.Function, cfg: Settings) -> dict:
    """The CreateSubscription request of push-subscribed function `fn`."""
    project = f"projects/{cfg.project_id}"
    url = f"{cfg.functions_base_url}/{fn.name}"
    return {
        "name": f"{project}/subscriptions/{subscription_name(fn)}",
        "topic": f"{project}/topics/{fn.topic}",
        "push_config": {"push_endpoint": url,
                        "oidc_token": {"service_account_email": cfg.invoker_service_account, "audience": url}},
        # For push, the ack deadline is how long Pub/Sub waits for the function's answer.
        "ack_deadline_seconds": max(10, min(600, fn.timeout_seconds)),
        "retry_policy": {"minimum_backoff": _duration(manifest.PUSH_MIN_BACKOFF_SECONDS),
                         "maximum_backoff": _duration(manifest.PUSH_MAX_BACKOFF_SECONDS)},
        "dead_letter_policy": {"dead_letter_topic": f"{project}/topics/{manifest.DEAD_LETTER_TOPIC}",
                               "max_delivery_attempts": manifest.MAX_DELIVERY_ATTEMPTS},
    }


def queue_request(q: manifest.Queue, parent: str) -> dict:
    """The CreateQueue request of manifest queue `q` under `parent` (projects/P/locations/L)."""
    return {
        "name": f"{parent}/queues/{q.name}",
        "rate_limits": {"max_dispatches_per_second": q.max_dispatches_per_second,
                        "max_concurrent_dispatches": q.max_concurrent_dispatches},
        "retry_config": {"max_attempts": q.max_attempts, "min_backoff": _duration(q.min_backoff_seconds),
                         "max_backoff": _duration(q.max_backoff_seconds), "max_doublings": q.max_doublings},
    }


def provision() -> None:
    from google.cloud import pubsub_v1

    from utalk import clients

    cfg = settings()
    publisher = clients.publisher()
    for topic in (*manifest.TOPICS, manifest.DEAD_LETTER_TOPIC):
        try:
            publisher.create_topic(name=publisher.topic_path(cfg.project_id, topic))
        except exceptions.AlreadyExists:
            pass
    with pubsub_v1.SubscriberClient() as subscriber:
        # A topic without subscriptions drops what is published to it: this one keeps dead letters.
        requests = [{"name": subscriber.subscription_path(cfg.project_id, f"{manifest.DEAD_LETTER_TOPIC}--hold"),
                     "topic": publisher.topic_path(cfg.project_id, manifest.DEAD_LETTER_TOPIC),
                     "message_retention_duration": _duration(7 * 24 * 3600)}]
        # Pull here: devstack/pusher.py pushes them, as concurrently as Google does.
        requests += [{k: v for k, v in subscription_request(fn, cfg).items() if k != "push_config"}
                     for fn in manifest.FUNCTIONS if fn.topic]
        for request in requests:
            try:
                subscriber.create_subscription(request=request)
            except exceptions.AlreadyExists:
                pass
    tasks = clients.tasks()
    parent = f"projects/{cfg.project_id}/locations/{cfg.region}"
    for q in manifest.QUEUES:
        try:
            tasks.create_queue(parent=parent, queue=queue_request(q, parent))
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
