"""The local stand-in for Pub/Sub's push delivery, concurrent as Google's is.

The Pub/Sub emulator pushes at most two messages at a time per subscription (measured: 100
messages to an endpoint answering in 0.2 s take 10.7 s), where Google's push service keeps many in
flight and grows that number while the endpoint keeps up. Locally that made every push hop of the
chain serial: at 10 messages/s the bot's replies queued for seconds before `message_sender` saw
them (docs/bot-and-escalation.md, "Chain"). So locally each push subscription
is created as the production request minus its push config (devstack/provision.py), and this
process delivers it as Google's push service would:
- it streams the subscription with up to `MAX_OUTSTANDING` messages in flight, each POSTed from a
  thread of its own to the subscription's push endpoint in the push format (`{"message": {data,
  attributes, messageId, publishTime}, "subscription", "deliveryAttempt"}`), with the OIDC token
  the push config names (the invoker service account, audience = the function's URL);
- a 102/200/201/202/204 answer acknowledges; anything else, or no answer within the ack deadline,
  is retried after the subscription's retry policy backoff (minimum doubling per attempt up to
  the maximum); the emulator counts the attempts and dead-letters as Pub/Sub does.

    python -m devstack.pusher      # with the stack's environment; one stream per push subscriber
"""
from __future__ import annotations

import base64
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timezone

log = logging.getLogger("devstack.pusher")
MAX_OUTSTANDING = 64          # messages in flight per subscription
ACK_STATUSES = frozenset({102, 200, 201, 202, 204})   # what Pub/Sub push takes as an acknowledgement


def backoff_seconds(attempt: int, minimum: float, maximum: float) -> float:
    """The wait before delivery `attempt` + 1 after a failed delivery `attempt` (1-based)."""
    return min(maximum, minimum * 2 ** max(0, attempt - 1))


class Pusher:
    """Delivers one pull subscription to `endpoint` as a push subscription would."""

    def __init__(self, subscription: str, endpoint: str, *, token=None, ack_deadline: float = 60,
                 min_backoff: float = 10, max_backoff: float = 600, max_outstanding: int = MAX_OUTSTANDING):
        self.subscription, self.endpoint, self.token = subscription, endpoint, token
        self.ack_deadline, self.min_backoff, self.max_backoff = ack_deadline, min_backoff, max_backoff
        self.max_outstanding = max_outstanding
        self._local = threading.local()
        self._future = None

    def start(self, subscriber) -> None:
        from google.cloud import pubsub_v1
        from google.cloud.pubsub_v1.subscriber.scheduler import ThreadScheduler

        self._future = subscriber.subscribe(
            self.subscription, self._deliver,
            flow_control=pubsub_v1.types.FlowControl(max_messages=self.max_outstanding,
                                                     max_lease_duration=self.ack_deadline),
            scheduler=ThreadScheduler(ThreadPoolExecutor(self.max_outstanding)))

    def stop(self) -> None:
        if self._future is not None:
            self._future.cancel()

    def envelope(self, message) -> dict:
        published = message.publish_time.astimezone(timezone.utc)
        stamp = published.strftime("%Y-%m-%dT%H:%M:%S.") + f"{published.microsecond:06d}Z"
        inner = {"data": base64.b64encode(message.data).decode(), "attributes": dict(message.attributes),
                 "messageId": message.message_id, "message_id": message.message_id,
                 "publishTime": stamp, "publish_time": stamp}
        body = {"message": inner, "subscription": self.subscription}
        if message.delivery_attempt:
            body["deliveryAttempt"] = message.delivery_attempt
        return body

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            import requests

            session = self._local.session = requests.Session()
        return session

    def _deliver(self, message) -> None:
        headers = {"Content-Type": "application/json"}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token()}"
        try:
            status = self._session().post(self.endpoint, json=self.envelope(message), headers=headers,
                                          timeout=self.ack_deadline).status_code
        except Exception as exc:   # no answer is a failed delivery, as for push
            log.warning("push to %s failed: %s", self.endpoint, exc)
            status = None
        if status in ACK_STATUSES:
            message.ack()
            return
        # Not acknowledged: hidden for the backoff, then redelivered (the emulator counts the
        # attempt and dead-letters past max_delivery_attempts), like a push that failed.
        wait = backoff_seconds(message.delivery_attempt or 1, self.min_backoff, self.max_backoff)
        message.modify_ack_deadline(max(1, min(600, int(round(wait)))))
        message.drop()


def subscriber_pushers() -> list[Pusher]:
    """One Pusher per push-subscribed function of the manifest, configured from the very request
    production's subscription is created with (the gateway serves each function at /_fn/<name>)."""
    from devstack import oidc
    from devstack.provision import subscription_request
    from utalk import manifest
    from utalk.config import settings

    cfg, gateway = settings(), os.environ["UTALK_GATEWAY_URL"]
    pushers = []
    for fn in manifest.FUNCTIONS:
        if not fn.topic:
            continue
        request = subscription_request(fn, cfg)
        oidc_token, retry = request["push_config"]["oidc_token"], request["retry_policy"]
        email, audience = oidc_token["service_account_email"], oidc_token["audience"]
        pushers.append(Pusher(
            request["name"], f"{gateway}/_fn/{fn.name}",
            token=lambda a=audience, e=email: oidc.mint(a, e), ack_deadline=request["ack_deadline_seconds"],
            min_backoff=retry["minimum_backoff"].ToTimedelta().total_seconds(),
            max_backoff=retry["maximum_backoff"].ToTimedelta().total_seconds()))
    return pushers


def _wait_for(subscriber, name: str, timeout: float = 120) -> None:
    """Provisioning runs after the emulators start: wait until it made `name`."""
    from google.api_core import exceptions

    deadline = time.monotonic() + timeout
    while True:
        try:
            subscriber.get_subscription(subscription=name, timeout=5)
            return
        except exceptions.NotFound:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main() -> None:
    from google.cloud import pubsub_v1

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    subscriber = pubsub_v1.SubscriberClient()
    pushers = subscriber_pushers()
    for p in pushers:
        _wait_for(subscriber, p.subscription)
        p.start(subscriber)
        log.info("pushing %s to %s", p.subscription, p.endpoint)
    threading.Event().wait()


if __name__ == "__main__":
    main()
