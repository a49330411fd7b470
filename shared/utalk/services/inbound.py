"""Inbound messages of every channel: store once, announce once.

A channel adapter verifies its provider's webhook and turns it into normalised items
(`channels/base.InboundItem`) with the route they arrived on (`channels/routes.Entry`: the
workspace and channel, with the channel's opened credentials, cached per instance); this stores
each item the same way whatever its channel.

The hot path spends, per item, one atomic batch of two writes (message `create()` under an id
derived from the provider's message id + conversation merge with field transforms), sent in one
Commit with what concurrent requests store meanwhile; a conversation's first message adds one
follow-up write for its initial state. No read, no read-modify-write transaction: an album's
concurrent webhooks never contend. Then one Publish: `message-received`, which also carries the
message's realtime events for the relay (an echo of the business's own message publishes its
events to `realtime-events` instead: the bot must not answer it).
"""
from __future__ import annotations

import datetime
import hashlib
import math
import uuid
from dataclasses import dataclass

from google.api_core import exceptions as gexc
from google.cloud import firestore

from utalk import clock, errors, events, logs, pubsub
from utalk.channels import adapter_for
from utalk.channels.base import InboundItem
from utalk.channels.routes import Entry
from utalk.models.common import iso_utc, utcnow
from utalk.models.conversations import Customer
from utalk.models.events import ConversationNew, ConversationUpdated
from utalk.models.messages import Message
from utalk.repositories.messages import Duplicate, MessageRepository
from utalk.repositories.raw_writes import Batch
from utalk.repositories.transforms import transform_result
from utalk.services import media
from utalk.text import normalize

log = logs.get("inbound")
NAMESPACE = uuid.UUID("9a4c1f53-7d1e-4a8e-b1b5-2a8d6c0f3e21")
_NAMESPACE_BYTES = NAMESPACE.bytes
PREVIEW = 200


# The fixed fields of a conversation (id, workspace, channel, participants, customer profile) as
# this instance wrote them: a later message with the same values leaves them out of its merge, that
# much less index work for Firestore on every message. A change (a new profile name, a re-created
# channel) is another key, so it is written. Bounded like the route cache: dropped whole when full.
_written: dict[tuple, None] = {}
_WRITTEN_MAX = 20_000


def message_id(provider: str, provider_message_id: str) -> str:
    """uuid5 of provider + provider id: every retry of one webhook maps to the same document."""
    return f"msg_{_uuid5(f'{provider}:{provider_message_id}')}"


def _uuid5(name: str) -> str:
    """`str(uuid.uuid5(NAMESPACE, name))` without the UUID object (its int arithmetic is most of
    uuid5's 6 µs, and every message derives three; tests/unit/test_inbound_ids.py checks equality)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50   # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80   # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True)
class Stored:
    message_id: str
    conversation_id: str
    workspace_id: str
    duplicate: bool


def receive_all(items: list[tuple[Entry, InboundItem]]) -> list[Stored]:
    """Store several items of one webhook (Messenger batches them): one failing item does not
    lose the others. Afterwards, if any failed for a reason a retry can fix (Firestore or Pub/Sub
    unavailable), 503 so the provider delivers the webhook again; what was stored is stored once."""
    stored, retry = [], False
    for entry, item in items:
        try:
            stored.append(store(entry, item))
        except (errors.ApiError, ValueError, gexc.ClientError) as exc:   # this item's fault: a retry cannot help
            log.warning("inbound item %s skipped: %s", item.provider_message_id, exc,
                        extra={"workspaceId": entry.doc.get("workspaceId")})
        except (gexc.GoogleAPICallError, gexc.RetryError, TimeoutError) as exc:
            log.error("inbound item %s not stored, asking for a retry: %s", item.provider_message_id, exc,
                      extra={"workspaceId": entry.doc.get("workspaceId")})
            retry = True
    if retry:
        raise errors.Unavailable("Some messages could not be stored; retry", code="retry_later")
    return stored


def store(entry: Entry, item: InboundItem, ahead=None) -> Stored:
    route = entry.doc
    ws, channel, channel_id = route["workspaceId"], route.get("type") or "whatsapp", route["channelId"]
    conv_id = item.conversation_id
    msg_id = message_id(item.provider, item.provider_message_id)
    at = clock.stamp()      # the server's time, or the local stack's moved clock (utalk/clock.py)
    message = _message(item, ws, conv_id, msg_id, channel, at)   # channel: analytics counts by it
    adapter = None

    records = []
    if item.attachments:
        adapter = adapter_for(route, entry.credentials)
        records, failures = media.store_inbound(adapter, ws, conv_id, msg_id, item.provider,
                                                item.provider_message_id,
                                                [(a.url, a.content_type) for a in item.attachments])
        if records:
            message["mediaId"] = records[0]["id"]
            message["type"] = records[0]["kind"]
            if len(records) > 1:
                message["metadata"]["mediaIds"] = [r["id"] for r in records]
        if failures:
            message["metadata"]["mediaErrors"] = failures
            if not records and message["type"] == "text" and not message["text"]:
                message["type"] = "file"

    if item.media:   # uploaded through our own media API already (web chat visitors): nothing to fetch
        message["mediaId"], message["type"] = item.media[0]["id"], item.media[0].get("kind") or "file"

    direction = message["direction"]
    last = {"text": (message.get("text") or "")[:PREVIEW] or None, "direction": direction,
            "type": message["type"], "at": at}
    fields = {"messageCount": firestore.Increment(1), "lastMessage": last, "lastMessageAt": at, "updatedAt": at}
    if not item.outbound:
        fields["unreadCount"] = firestore.Increment(1)
        fields["lastInboundAt"] = at     # the channel's reply window opens here
    constants = {"id": conv_id, "workspaceId": ws, "channel": channel, "channelId": channel_id,
                 "participants": [item.customer, item.business],
                 "customer": customer_fields(item.customer, item.profile)}
    written = (ws, conv_id, channel_id, tuple(sorted(constants["customer"].items())))
    known = written in _written
    if not known:
        fields.update(constants)
    repo = MessageRepository(ws)
    try:
        results = repo.store(message, fields, records, ahead)
    except Duplicate:
        # A provider retry. The first delivery may have stored the message and then failed to
        # publish (which is why the provider retried), so announce again: the bot is idempotent
        # per message and the relay per event id.
        pubsub.wait([_announce(ws, conv_id, message)])
        return Stored(msg_id, conv_id, ws, duplicate=True)

    # Publish only after the commit: a subscriber (the bot) must always find the message it is told about.
    opened = None
    if transform_result(results[-1], fields, "messageCount") == 1:
        # Only a brand-new conversation needs its initial state; done as a follow-up write so the
        # common path never reads. Later messages must not reset status, assignment or bot flag.
        # The conversation's fixed fields go with it: this instance may remember writing them to
        # a conversation that was deleted since. The channel may know more about the customer
        # than its webhooks say (Messenger's profile API): asked here, once per conversation.
        adapter = adapter or adapter_for(route, entry.credentials)
        profile = adapter.customer_profile(item.customer) if not item.profile else None
        if profile:
            constants["customer"] = customer_fields(item.customer, {**item.profile, **profile})
        Batch(repo.scope.db).set(repo.conversations.document(conv_id), {
            **constants, "status": "open", "botEnabled": True, "assignedAgent": None,
            "createdAt": at}, merge=True).commit()
        opened = ConversationNew(conversationId=conv_id, channel=channel, channelId=channel_id,
                                 customer=Customer.model_validate(constants["customer"]))
    if not known:
        if len(_written) >= _WRITTEN_MAX:
            _written.clear()  # cheaper than LRU bookkeeping; the cost of forgetting is one rewrite
        _written[written] = None
    pubsub.wait([_announce(ws, conv_id, message, opened)])
    return Stored(msg_id, conv_id, ws, duplicate=False)


def customer_fields(address: str, profile: dict) -> dict:
    """A conversation's `customer`: the address, what the channel says of them, and `nameKey`, the
    name folded (case and accents; utalk.text.normalize) that the lookup by name ranges over."""
    fields = {"address": address, **profile}
    if profile.get("name"):
        fields["nameKey"] = normalize(profile["name"])
    return fields


def _message(item: InboundItem, ws: str, conv_id: str, msg_id: str, channel: str, at) -> dict:
    metadata = item.metadata   # the item's own: this request's, filled in below
    if item.reply_to:
        metadata["replyTo"] = item.reply_to
    message = {"id": msg_id, "conversationId": conv_id, "workspaceId": ws, "messageId": None,
               "providerId": item.provider_message_id, "type": "location" if item.location else "text",
               "text": item.text, "mediaId": None, "location": item.location,
               "sender": item.customer, "senderType": "customer", "senderId": None, "direction": "inbound",
               "status": "received", "errorCode": None, "errorMessage": None, "metadata": metadata,
               "channel": channel, "createdAt": at, "updatedAt": at}
    if item.outbound:
        # A person at the business answered from the provider's own tool: the thread must show it,
        # as the business's message, already sent (delivery and read then move it forward).
        message.update(sender=item.business, senderType="agent", direction="outbound", status="sent",
                       sentAt=item.sent_at)
    return message


def _announce(ws: str, conv_id: str, message: dict, opened: ConversationNew | None = None):
    """The one Publish of a stored message: `message-received` for the bot, carrying the realtime
    events the relay emits (it subscribes to that topic too), led by `opened` when this message
    opened the conversation. An outbound echo's events go to `realtime-events` alone.

    Event ids derive from the message id, so the announcement a provider retry repeats is emitted once."""
    now = utcnow()
    at = iso_utc(now)
    inbound = message["direction"] == "inbound"
    ids = {"workspaceId": ws, "conversationId": conv_id, "messageId": message["id"]}

    def envelope(name: str, payload: dict) -> dict:
        return events.dumped(name, ws, payload, f"evt_{_uuid5(message['id'] + ':' + name)}", at)
    shown = _shown(message, at)
    if shown is None:   # a value only the model knows how to show
        shown = Message.model_validate({**message, "createdAt": now, "updatedAt": now}).model_dump(mode="json")
    text = shown["text"]
    carried = [
        envelope("message:new", {"conversationId": conv_id, "message": shown}),
        envelope("conversation:updated", {
            **_UPDATED, "conversationId": conv_id, "reason": "message", "unreadDelta": 1 if inbound else None,
            "lastMessage": {"text": text and text[:PREVIEW], "direction": shown["direction"], "type": shown["type"],
                            "at": at}}),
    ]
    if opened is not None:  # first, so a screen has the row when its message arrives
        carried.insert(0, envelope("conversation:new", opened.model_dump(mode="json")))
    audience = events.audience(conversation_id=conv_id)
    if not inbound:
        return pubsub.send(events.TOPIC, [pubsub.message(e, event=e["event"], workspaceId=ws, **audience)
                                          for e in carried])
    return pubsub.send("message-received", [events.carrying(ids, carried, {**ids, **audience})])


# The payloads of `message:new` and `conversation:updated` are built here as their models' JSON
# dumps, not through the models: validating the message just built as `Message` and dumping it
# again was a third of the announcement's CPU, on every message of every channel.
# tests/unit/test_inbound_events.py checks both equal the models' dumps, and that these fields
# are still the model's.
_UPDATED = ConversationUpdated(conversationId="", reason="message").model_dump(mode="json")   # defaults
_SHOWN_AS_IS = ("id", "conversationId", "workspaceId", "messageId", "providerId", "type", "text", "mediaId")
_SHOWN_SENDER = ("sender", "senderType", "senderId", "direction", "status", "errorCode", "errorMessage")


def _shown(message: dict, at: str) -> dict | None:
    """`Message.model_validate({**message, "createdAt": now, "updatedAt": now}).model_dump(mode="json")`
    for a message `_message` built (`at`: now, as JSON); None when it holds what only the model can
    show (a value not plain JSON)."""
    location, metadata, sent = message.get("location"), message.get("metadata") or {}, message.get("sentAt")
    media_ids = message.get("mediaIds") or []
    if not (_plain(metadata) and _plain(media_ids) and (location is None or _plain_location(location))
            and (sent is None or isinstance(sent, datetime.datetime))):
        return None
    shown = {k: message.get(k) for k in _SHOWN_AS_IS}
    shown["mediaIds"] = list(media_ids)
    shown["location"] = location and {"latitude": float(location["latitude"]),
                                      "longitude": float(location["longitude"]), "label": location.get("label")}
    shown.update((k, message.get(k)) for k in _SHOWN_SENDER)
    shown.update(metadata=metadata, sentAt=sent and iso_utc(sent), createdAt=at, updatedAt=at)
    return shown


def _plain(value) -> bool:
    """JSON as it is: what pydantic's JSON dump leaves unchanged (no tuples, NaN or datetimes)."""
    kind = type(value)
    if kind in (str, int, bool) or value is None:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        return all(_plain(v) for v in value)
    if kind is dict:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    return False


def _plain_location(location) -> bool:
    return type(location) is dict and all(
        type(location.get(k)) in (int, float) and math.isfinite(location[k]) for k in ("latitude", "longitude")) \
        and type(location.get("label")) in (str, type(None))
