"""The Pub/Sub side: one StreamingPull on one shared subscription, on the relay's event loop.

The relay runs one Feed per subscription (`realtime-events`, and `message-received`, whose
messages carry the realtime events of an inbound message); both use the same dedup. A message
holds one event or a batch of them (relay/routing.py), emitted in order.

The pull runs on asyncio (the generated `SubscriberAsyncClient` over grpc.aio) rather than the
threaded `SubscriberClient`: no lease/dispatcher threads competing with the Socket.IO loop for
the GIL, and a received message is emitted in the same loop iteration. Flow control is the
server-side kind (max outstanding messages on the stream). A message is acked only after all its
events were emitted (to Redis when several instances run); on shutdown the ones not emitted are
nacked so Pub/Sub redelivers them to another instance. Event ids already emitted are remembered in
Redis for a while, which turns Pub/Sub's at-least-once delivery into exactly-once emission, per
event: a redelivered batch emits only the events it had not emitted yet.
"""
from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta

from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1
from google.protobuf import duration_pb2

from utalk import logs

from . import routing, visitors

log = logs.get("relay.feed")

_HALF_CLOSE = ("", None)  # sentinel in the settlement queue: end the request stream


class Pulled:
    """A received message with the ack()/nack() of the threaded client's Message."""

    __slots__ = ("feed", "ack_id", "data", "attributes", "message_id", "publish_time", "delivery_attempt")

    def __init__(self, feed: "Feed", received):
        msg = received.message
        self.feed, self.ack_id = feed, received.ack_id
        self.data, self.attributes = msg.data, dict(msg.attributes)
        self.message_id, self.publish_time = msg.message_id, msg.publish_time
        self.delivery_attempt = received.delivery_attempt

    def ack(self) -> None:
        self.feed.settle(self.ack_id, ack=True)

    def nack(self) -> None:
        self.feed.settle(self.ack_id, ack=False)


def _async_subscriber():
    import grpc
    from google.pubsub_v1.services.subscriber import SubscriberAsyncClient
    from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcAsyncIOTransport
    host = os.environ.get("PUBSUB_EMULATOR_HOST")
    if host:
        return SubscriberAsyncClient(transport=SubscriberGrpcAsyncIOTransport(
            channel=grpc.aio.insecure_channel(host)))
    return SubscriberAsyncClient()


class Feed:
    def __init__(self, sio, project: str, topic: str, subscription: str, dedup, *,
                 max_messages: int, max_age_seconds: float, carried_only: bool = False):
        self.sio, self.dedup, self.carried_only = sio, dedup, carried_only
        self.topic_path = f"projects/{project}/topics/{topic}"
        self.subscription_path = f"projects/{project}/subscriptions/{subscription}"
        self.max_messages, self.max_age = max_messages, max_age_seconds
        self.client = None
        self.pull_task: asyncio.Task | None = None
        self.streaming = False
        self.inflight: dict[asyncio.Task, Pulled] = {}
        self._settled: asyncio.Queue = asyncio.Queue()
        self.stats = {"received": 0, "emitted": 0, "duplicates": 0, "dropped": 0, "failed": 0, "streams": 0}
        self.stopping = False

    # -- setup (blocking admin calls, run in a thread) ------------------------------------------
    def ensure_subscription(self) -> None:
        publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
        try:
            publisher.create_topic(name=self.topic_path)
        except gexc.AlreadyExists:
            pass
        try:
            subscriber.create_subscription(request={
                "name": self.subscription_path, "topic": self.topic_path, "ack_deadline_seconds": 10,
                # A backlog is useless to a live feed: keep the minimum retention, and let
                # Pub/Sub delete the subscription once no relay has pulled for a day.
                "message_retention_duration": duration_pb2.Duration(seconds=600),
                "expiration_policy": {"ttl": timedelta(days=1)},
            })
            log.info("subscription created", extra={"subscription": self.subscription_path})
        except gexc.AlreadyExists:
            log.info("subscription shared", extra={"subscription": self.subscription_path})
        finally:
            subscriber.close()

    # -- streaming pull ---------------------------------------------------------------------
    def start(self) -> None:
        self.client = _async_subscriber()
        self.pull_task = asyncio.ensure_future(self._pull_forever())

    @property
    def pulling(self) -> bool:
        return self.pull_task is not None and not self.pull_task.done()

    def describe(self) -> dict:
        """This feed's part of /health."""
        return {"topic": self.topic_path, "subscription": self.subscription_path, "pulling": self.pulling,
                "streaming": self.streaming, "events": self.stats}

    def settle(self, ack_id: str, ack: bool) -> None:
        self._settled.put_nowait((ack_id, ack))

    async def _requests(self):
        from google.pubsub_v1.types import StreamingPullRequest
        # Server-side flow control: at most max_messages unacked on this stream. The 10 s stream
        # ack deadline (the minimum) bounds how long a message handed to a stream that died stays
        # stranded before redelivery; we ack within milliseconds.
        yield StreamingPullRequest(subscription=self.subscription_path, stream_ack_deadline_seconds=10,
                                   max_outstanding_messages=self.max_messages,
                                   max_outstanding_bytes=64 * 1024 * 1024)
        while True:
            # Wait for one settlement, then take whatever else is ready: acks batch by themselves
            # under load and go out at once when idle.
            batch = [await self._settled.get()]
            while not self._settled.empty() and len(batch) < 2000:
                batch.append(self._settled.get_nowait())
            closing = _HALF_CLOSE in batch
            batch = [b for b in batch if b is not _HALF_CLOSE]
            acks = [a for a, ok in batch if ok]
            nacks = [a for a, ok in batch if not ok]
            if batch:
                yield StreamingPullRequest(ack_ids=acks, modify_deadline_ack_ids=nacks,
                                           modify_deadline_seconds=[0] * len(nacks))
            if closing:
                # Ending the request stream half-closes the call, and the server ends it cleanly.
                # A stream that is merely cut is one the emulator keeps handing messages to
                # (each stranded until its ack deadline) long after the process is gone.
                return

    async def _pull_forever(self) -> None:
        backoff = 0.1
        while not self.stopping:
            try:
                stream = await self.client.streaming_pull(requests=self._requests())
                self.stats["streams"] += 1
                self.streaming = True
                async for response in stream:
                    backoff = 0.1
                    for received in response.received_messages:
                        self._schedule(Pulled(self, received))
                if self.stopping:
                    return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Pub/Sub closes streams now and then (UNAVAILABLE) by design: reopen. Unacked
                # messages of the old stream come back on the new one after their deadline.
                log.warning("pull stream ended, reopening", extra={"error": repr(exc)[:300],
                                                                   "retryInSeconds": backoff})
            finally:
                self.streaming = False
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)

    def _schedule(self, message: Pulled) -> None:
        if self.stopping:
            message.nack()
            return
        task = asyncio.ensure_future(self._handle(message))
        self.inflight[task] = message
        task.add_done_callback(self.inflight.pop)

    async def _handle(self, message) -> None:
        self.stats["received"] += 1
        log.debug("message received", extra={"messageId": message.message_id,
                                             "attempt": message.delivery_attempt})
        try:
            routes = routing.routes(message.data, message.attributes, self.carried_only)
        except routing.Malformed as exc:
            self.stats["dropped"] += 1
            log.warning("malformed event dropped", extra={"reason": str(exc), "messageId": message.message_id})
            message.ack()
            return
        if not routes:
            message.ack()
            return
        age = time.time() - message.publish_time.timestamp()
        if age > self.max_age:
            self.stats["dropped"] += 1
            log.warning("stale event dropped", extra={"eventId": routes[0].event_id, "events": len(routes),
                                                      "ageSeconds": round(age, 1)})
            message.ack()
            return
        for route in routes:
            if not await self._emit(route):
                # The events before this one stay claimed, so the redelivery emits only the rest.
                message.nack()
                return
        message.ack()

    async def _emit(self, route: routing.Route) -> bool:
        """Emit one event unless already claimed; False if it failed and must be retried."""
        waiting = self.dedup.settled(route.event_id)
        if waiting is not None:   # a concurrent copy of this message is emitting it: wait for it to be out
            self.stats["duplicates"] += 1
            return await waiting
        self.dedup.begin(route.event_id)
        done = False
        try:
            done = await self._claim_and_emit(route)
            return done
        finally:
            self.dedup.end(route.event_id, done)

    async def _claim_and_emit(self, route: routing.Route) -> bool:
        try:
            if not await self.dedup.claim(route.event_id):
                self.stats["duplicates"] += 1
                return True
        except Exception:
            self.stats["failed"] += 1
            log.exception("dedup failed; redelivery will retry", extra={"eventId": route.event_id})
            return False
        try:
            # One emit to the list of rooms: a socket in several of them still gets one copy.
            emits = [self.sio.emit(route.event, route.payload, room=route.rooms)]
            shown = visitors.view(route.event, route.payload, route.rooms)
            if shown is not None:   # a web chat's visitor hears their view of it, from this instance alone
                emits.append(self.sio.emit(shown[0], shown[1], room=shown[2]))
            # Side by side, not one after the other: the Redis manager delivers an emit here and then
            # waits for its publish, so a visitor after the agents waited one Redis round trip more
            # than they did (visitor p50 2.5 ms over the agents' in bench/relay_visitor_bench.py, level
            # since). No socket is in both (a visitor's room holds only visitors): nothing orders them.
            failed = [r for r in await asyncio.gather(*emits, return_exceptions=True) if isinstance(r, BaseException)]
            if failed:
                raise failed[0]
        except Exception:
            self.stats["failed"] += 1
            log.exception("emit failed; redelivery will retry", extra={"eventId": route.event_id})
            await _quietly(self.dedup.release(route.event_id))
            return False
        self.stats["emitted"] += 1
        return True

    # -- shutdown ---------------------------------------------------------------------------
    async def stop(self, timeout: float = 5.0) -> None:
        """Stop pulling; settle what was handled, nack what was not so another instance gets it."""
        self.stopping = True
        if self.inflight:
            await asyncio.wait(list(self.inflight), timeout=timeout)
        for task, message in list(self.inflight.items()):
            task.cancel()
            message.nack()
        if self.pull_task is not None:
            if self.streaming:
                self._settled.put_nowait(_HALF_CLOSE)  # settle what is queued, then half-close
                await asyncio.wait([self.pull_task], timeout=timeout)
            self.pull_task.cancel()
            await asyncio.gather(self.pull_task, return_exceptions=True)
        # Whatever the stream did not carry goes out as plain calls.
        acks, nacks = [], []
        while not self._settled.empty():
            item = self._settled.get_nowait()
            if item is not _HALF_CLOSE:
                (acks if item[1] else nacks).append(item[0])
        try:
            if acks:
                await self.client.acknowledge(subscription=self.subscription_path, ack_ids=acks)
            if nacks:
                await self.client.modify_ack_deadline(subscription=self.subscription_path, ack_ids=nacks,
                                                      ack_deadline_seconds=0)
        except Exception as exc:
            log.warning("final ack/nack failed; deadlines will expire", extra={"error": repr(exc)[:300]})
        await self.client.transport.close()


async def _quietly(coro) -> None:
    try:
        await coro
    except Exception:
        pass
