"""Inbound WhatsApp messages from Twilio: route by number, verify, store once, announce.

The hot path spends the route of the number written to, with the channel's opened credentials
(`channels/routes.py`: cached per instance, so nothing in the steady state; two reads on a miss),
and one atomic batch of two writes (message `create()` under an id derived from the MessageSid +
conversation merge with field transforms), sent in one Commit with what concurrent requests store meanwhile; a
conversation's first message adds one follow-up write for its initial state. No read-modify-write
transaction: an album's concurrent webhooks never contend. Then one Publish: `message-received`,
which also carries the message's realtime events for the relay.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from google.cloud import firestore

from utalk import errors, events, logs, pubsub
from utalk.channels import adapter_for, routes
from utalk.channels.twilio_whatsapp import signed
from utalk.models.channels import E164
from utalk.models.common import utcnow
from utalk.models.conversations import Customer, LastMessage
from utalk.models.events import ConversationNew, ConversationUpdated, MessageNew
from utalk.models.messages import MAX_TEXT, Message
from utalk.repositories.messages import Duplicate, MessageRepository
from utalk.repositories.raw_writes import Batch
from utalk.repositories.transforms import transform_result
from utalk.services import media
from utalk.services.conversations import conversation_id

log = logs.get("inbound")
NAMESPACE = uuid.UUID("9a4c1f53-7d1e-4a8e-b1b5-2a8d6c0f3e21")
MAX_MEDIA = 10
PREVIEW = 200


# The fixed fields of a conversation (id, workspace, channel, participants, customer profile) as
# this instance wrote them: a later message with the same values leaves them out of its merge, that
# much less index work for Firestore on every message. A change (a new profile name, a re-created
# channel) is another key, so it is written. Bounded like the route cache: dropped whole when full.
_written: dict[tuple, None] = {}
_WRITTEN_MAX = 20_000


def message_id(provider: str, provider_message_id: str) -> str:
    """uuid5 of provider + provider id: every retry of one webhook maps to the same document."""
    return f"msg_{uuid.uuid5(NAMESPACE, f'{provider}:{provider_message_id}')}"


def address(value: str | None) -> str:
    return (value or "").removeprefix("whatsapp:").strip()


@dataclass(frozen=True)
class Stored:
    message_id: str
    conversation_id: str
    workspace_id: str
    duplicate: bool


def verify(form, url: str, signature: str | None) -> routes.Entry:
    """Route the webhook by the number it was sent to and check Twilio's signature with the auth
    token of that number's channel (the one its workspace submitted, opened from the cache)."""
    to = address(form.get("To"))
    # Both ends must be WhatsApp numbers before either names a document (a route, a conversation).
    if not E164.match(to) or not E164.match(address(form.get("From"))) or not form.get("MessageSid"):
        raise errors.BadRequest("MessageSid, From and To (whatsapp:+E.164) are required", code="invalid_webhook")
    entry = routes.by_address("whatsapp", to)
    if entry is None:
        raise errors.NotFound("No channel for this number", code="unknown_channel")
    entry = routes.verified(entry, signed(url, form, signature), may_reload=bool(signature))
    if entry is None:
        raise errors.Forbidden("Invalid Twilio signature", code="invalid_signature")
    account = entry.doc.get("accountSid")
    if account and form.get("AccountSid") and form.get("AccountSid") != account:
        raise errors.Forbidden("Webhook from another Twilio account", code="account_mismatch")
    return entry


def receive(form, url: str, signature: str | None) -> Stored:
    entry = verify(form, url, signature)
    route = entry.doc
    ws, sid = route["workspaceId"], form["MessageSid"]
    customer, business = address(form.get("From")), route["address"]
    conv_id = conversation_id(customer, business)
    msg_id = message_id("twilio", sid)
    message = _message(form, ws, conv_id, msg_id, customer)

    records = []
    count = min(_int(form.get("NumMedia")), MAX_MEDIA)
    if count:
        items = [(form.get(f"MediaUrl{i}"), form.get(f"MediaContentType{i}", "")) for i in range(count)]
        items = [(u, t) for u, t in items if u]
        records, failures = media.store_inbound(adapter_for(route, entry.credentials), ws, conv_id, msg_id,
                                                "twilio", sid, items)
        if records:
            message["mediaId"] = records[0]["id"]
            message["type"] = records[0]["kind"]
            if len(records) > 1:
                message["metadata"]["mediaIds"] = [r["id"] for r in records]
        if failures:
            message["metadata"]["mediaErrors"] = failures
            if not records and message["type"] == "text" and not message["text"]:
                message["type"] = "file"

    last = {"text": (message.get("text") or "")[:PREVIEW] or None, "direction": "inbound",
            "type": message["type"], "at": firestore.SERVER_TIMESTAMP}
    fields = {"unreadCount": firestore.Increment(1), "messageCount": firestore.Increment(1),
              "lastMessage": last, "lastMessageAt": firestore.SERVER_TIMESTAMP,
              "lastInboundAt": firestore.SERVER_TIMESTAMP, "updatedAt": firestore.SERVER_TIMESTAMP}
    constants = {"id": conv_id, "workspaceId": ws, "channel": "whatsapp", "channelId": route["channelId"],
                 "participants": [customer, business],
                 "customer": {k: v for k, v in {"address": customer, "name": form.get("ProfileName"),
                                                "waId": form.get("WaId")}.items() if v}}
    written = (ws, conv_id, route["channelId"], tuple(sorted(constants["customer"].items())))
    known = written in _written
    if not known:
        fields.update(constants)
    repo = MessageRepository(ws)
    try:
        results = repo.store(message, fields, records)
    except Duplicate:
        # A Twilio retry. The first delivery may have stored the message and then failed to publish
        # (which is why Twilio retried), so announce again: the bot is idempotent per message and
        # the relay per event id.
        pubsub.wait([_announce(ws, conv_id, message)])
        return Stored(msg_id, conv_id, ws, duplicate=True)

    # Publish only after the commit: a subscriber (the bot) must always find the message it is told about.
    opened = None
    if transform_result(results[-1], fields, "messageCount") == 1:
        # Only a brand-new conversation needs its initial state; done as a follow-up write so the
        # common path never reads. Later messages must not reset status, assignment or bot flag.
        # The conversation's fixed fields go with it: this instance may remember writing them to
        # a conversation that was deleted since.
        Batch(repo.scope.db).set(repo.conversations.document(conv_id), {
            **constants, "status": "open", "botEnabled": True, "assignedAgent": None,
            "createdAt": firestore.SERVER_TIMESTAMP}, merge=True).commit()
        opened = ConversationNew(conversationId=conv_id, channel="whatsapp", channelId=route["channelId"],
                                 customer=Customer.model_validate(constants["customer"]))
    if not known:
        if len(_written) >= _WRITTEN_MAX:
            _written.clear()  # cheaper than LRU bookkeeping; the cost of forgetting is one rewrite
        _written[written] = None
    pubsub.wait([_announce(ws, conv_id, message, opened)])
    return Stored(msg_id, conv_id, ws, duplicate=False)


def _message(form, ws: str, conv_id: str, msg_id: str, customer: str) -> dict:
    text = (form.get("Body") or "")[:MAX_TEXT] or None
    message = {"id": msg_id, "conversationId": conv_id, "workspaceId": ws, "messageId": None,
               "providerId": form["MessageSid"], "type": "text", "text": text, "mediaId": None, "location": None,
               "sender": customer, "senderType": "customer", "senderId": None, "direction": "inbound",
               "status": "received", "errorCode": None, "errorMessage": None,
               "metadata": {k: form[f] for k, f in (("profileName", "ProfileName"), ("waId", "WaId"),
                                                    ("referral", "ReferralSourceUrl"),
                                                    ("replyTo", "OriginalRepliedMessageSid")) if form.get(f)},
               "createdAt": firestore.SERVER_TIMESTAMP, "updatedAt": firestore.SERVER_TIMESTAMP}
    lat, lng = form.get("Latitude"), form.get("Longitude")
    if lat and lng:
        try:
            message["location"] = {"latitude": float(lat), "longitude": float(lng),
                                   "label": form.get("Label") or form.get("Address") or None}
            message["type"] = "location"
        except ValueError:
            raise errors.BadRequest("Latitude/Longitude must be numbers", code="invalid_webhook") from None
    return message


def _announce(ws: str, conv_id: str, message: dict, opened: ConversationNew | None = None):
    """The one Publish of a stored inbound message: `message-received` for the
    bot, carrying the realtime events the relay emits (it subscribes to that topic too), led by
    `opened` when this message opened the conversation.

    Event ids derive from the message id, so the announcement a Twilio retry repeats is emitted once."""
    now = utcnow()
    shown = Message.model_validate({**message, "createdAt": now, "updatedAt": now})
    ids = {"workspaceId": ws, "conversationId": conv_id, "messageId": message["id"]}

    def envelope(name: str, payload) -> dict:
        return events.envelope(name, ws, payload, f"evt_{uuid.uuid5(NAMESPACE, message['id'] + ':' + name)}")
    carried = [
        envelope("message:new", MessageNew(conversationId=conv_id, message=shown)),
        envelope("conversation:updated", ConversationUpdated(
            conversationId=conv_id, reason="message", unreadDelta=1, lastMessage=LastMessage(
                text=shown.text and shown.text[:PREVIEW], direction="inbound", type=shown.type, at=now))),
    ]
    if opened is not None:  # first, so a screen has the row when its message arrives
        carried.insert(0, envelope("conversation:new", opened))
    return pubsub.send("message-received", [events.carrying(
        ids, carried, {**ids, **events.audience(conversation_id=conv_id)})])


def _int(value) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        raise errors.BadRequest("NumMedia must be a number", code="invalid_webhook") from None
