"""Outbound messaging: agents (and the bot) queue messages; the sender delivers them once.

queue_outbound() stores the message as `queued` (its `message_id` is the idempotency key: a
retry finds the stored message and sends nothing twice) and publishes `message-outbound`.
deliver() runs in the sender function: it claims the message (queued -> sending, a transaction
on that one document, so a duplicate Pub/Sub delivery cannot send again), calls the provider with
bounded retries and backoff, and records the provider id or the failure.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta

from google.cloud import firestore

from utalk import clock, errors, events, logs, pubsub
from utalk.auth.tokens import Principal
from utalk.channels import adapter_for, credentials
from utalk.channels.base import Outbound, PermanentSendError, TransientSendError
from utalk.channels.rules import rules_for
from utalk.models.common import utcnow
from utalk.models.conversations import LastMessage
from utalk.models.events import ConversationUpdated, MessageNew, MessageStatusChanged
from utalk.models.messages import STATUS_RANK, Message, SendMessage
from utalk.repositories.channels import ChannelRepository
from utalk.repositories.conversations import ConversationRepository
from utalk.repositories.media import MediaRepository
from utalk.repositories.messages import Duplicate, MessageRepository
from utalk.repositories.workspaces import workspace_settings
from utalk.services import analytics, outbound_media
from utalk.services.conversations import ensure_visible, restricted_to

log = logs.get("messaging")
SEND_ATTEMPTS = 4
BACKOFF_SECONDS = 0.5                 # 0.5, 1, 2 s between the attempts
CLAIM_LEASE = timedelta(seconds=150)  # longer than the sender's timeout: a live claim is never stolen
STATUS_EVENTS = {"sent": "message:sent", "delivered": "message:delivered", "read": "message:read",
                 "failed": "message:failed", "undelivered": "message:failed"}


class ClaimedElsewhere(Exception):
    """Another delivery of the same Pub/Sub message is sending it right now: redeliver later."""


def outbound_id(message_id: str) -> str:
    return f"msg_{message_id}"


# -- agents ---------------------------------------------------------------------------------------
def send_from_agent(principal: Principal, body: SendMessage) -> tuple[Message, bool]:
    """Returns (message, created). A retried send (same messageId) returns the stored message.

    Attachments are checked against the channel's limits before anything is queued; a channel
    that carries fewer per message gets several messages (`outbound_media.parts`), the first
    under the client's id, which is the one returned."""
    ws = principal.workspace_id
    existing = MessageRepository(ws).get(body.conversationId, outbound_id(body.messageId))
    if existing is not None:
        message = _same_send(ws, existing, principal)
        if len(body.mediaIds) > 1:  # the first try may have died before queueing every part
            records = MediaRepository(ws).get_many(body.mediaIds)
            conversation = ConversationRepository(ws).get(body.conversationId) or {}
            _queue_parts(ws, principal, body, [records[m] for m in body.mediaIds if m in records],
                         conversation.get("channel"), skip_first=True,
                         options=(existing.get("metadata") or {}).get("send"))
        return message, False
    conversation = ensure_visible(ConversationRepository(ws).get(body.conversationId), restricted_to(principal))
    if principal.role == "agent" and conversation.get("assignedAgent") not in (None, principal.user_id):
        raise errors.Forbidden("This conversation is assigned to another agent", code="not_assigned")
    media = outbound_media.checked(ws, conversation, body.mediaIds) if body.mediaIds else []
    # The channel's rules (window, length, content) before anything is queued; what they decide
    # (Messenger's message tag) goes with the message to the sender.
    options = rules_for(conversation.get("channel")).check(
        conversation, sender_type="agent", text=body.text, media=bool(media), location=bool(body.location),
        template=body.template is not None, human_agent_tag=lambda: human_agent_tag(ws))
    return _queue_parts(ws, principal, body, media, conversation.get("channel"), options=options)


def _queue_parts(ws: str, principal: Principal, body: SendMessage, media: list[dict], channel: str | None,
                 skip_first: bool = False, options: dict | None = None) -> tuple[Message, bool]:
    sent = []
    for index, (message_id, attached) in enumerate(outbound_media.parts(body.messageId, media, channel)):
        first = index == 0
        if first and skip_first:
            continue
        sent.append(queue_outbound(
            ws, body.conversationId, text=body.text if first else None, media=attached,
            location=body.location.model_dump() if body.location and first else None,
            template=body.template.model_dump() if body.template and first else None,
            sender_type="agent", sender_id=principal.user_id, message_id=message_id, options=options))
    return sent[0] if sent else (None, False)


def human_agent_tag(workspace_id: str) -> bool:
    """Whether the workspace's Pages may answer with Messenger's HUMAN_AGENT tag (default off: the
    Page needs that permission from Meta)."""
    return (workspace_settings(workspace_id).get("messenger") or {}).get("humanAgentTag") is True


def _same_send(ws: str, existing: dict, principal: Principal) -> Message:
    if existing.get("senderId") != principal.user_id:
        raise errors.Conflict("messageId already used", code="duplicate_message_id")
    if existing.get("status") == "queued":
        _publish_outbound(ws, existing["conversationId"], existing["id"])  # the first try may have died
    return Message.model_validate(existing)


# -- the bot and agents both end here -----------------------------------------------------------
def queue_outbound(workspace_id: str, conversation_id: str, *, text=None, media: list[dict] = (), location=None,
                   template=None, sender_type: str, sender_id: str | None, message_id: str,
                   options: dict | None = None) -> tuple[Message, bool]:
    """Store a message as queued and publish it for the sender; idempotent on `message_id`.
    `media`: the (checked) media records it carries, in order; `options`: what the channel's rules
    decided for it (`channels/rules.py`), for the sender."""
    repo = MessageRepository(workspace_id)
    msg_type = "location" if location else "template" if template else \
        (media[0].get("kind") or "file") if media else "text"
    media_ids = [record["id"] for record in media]
    at = clock.stamp()      # the server's time, or the local stack's moved clock
    message = {"id": outbound_id(message_id), "conversationId": conversation_id, "workspaceId": workspace_id,
               "messageId": message_id, "providerId": None, "type": msg_type, "text": text,
               "mediaId": media_ids[0] if media_ids else None, "mediaIds": media_ids or None,
               "location": location, "sender": sender_id, "senderType": sender_type, "senderId": sender_id,
               "direction": "outbound", "status": "queued", "errorCode": None, "errorMessage": None,
               "metadata": {k: v for k, v in (("template", template), ("send", options)) if v},
               "createdAt": at, "updatedAt": at}
    preview = (text or "")[:200] or None
    fields = {"messageCount": firestore.Increment(1), "lastMessageAt": at,
              "lastMessage": {"text": preview, "direction": "outbound", "type": msg_type, "at": at},
              "updatedAt": at}
    try:
        repo.store(message, fields)
    except Duplicate:
        stored = repo.get(conversation_id, message["id"])
        if stored and stored.get("status") == "queued":
            _publish_outbound(workspace_id, conversation_id, message["id"])
        return Message.model_validate(stored), False
    now = utcnow()
    shown = Message.model_validate({**message, "createdAt": now, "updatedAt": now})
    pubsub.wait([
        _publish_outbound(workspace_id, conversation_id, message["id"], wait=False),
        events.publish_all([
            events.message("message:new", workspace_id, MessageNew(conversationId=conversation_id, message=shown),
                           conversation_id=conversation_id),
            events.message("conversation:updated", workspace_id, ConversationUpdated(
                conversationId=conversation_id, reason="message",
                lastMessage=LastMessage(text=preview, direction="outbound", type=msg_type, at=now)),
                conversation_id=conversation_id),
        ]),
    ])
    return shown, True


def _publish_outbound(ws: str, conv_id: str, msg_id: str, wait: bool = True):
    call = pubsub.publish("message-outbound", {"workspaceId": ws, "conversationId": conv_id,
                                               "messageId": msg_id},
                          workspaceId=ws, conversationId=conv_id, messageId=msg_id)
    if wait:
        call.result(timeout=30)
    return call


# -- the sender ---------------------------------------------------------------------------------
def deliver(ws: str, conv_id: str, msg_id: str) -> str:
    """Send one queued message; returns what happened (for logs)."""
    repo = MessageRepository(ws)
    claim = utcnow()

    def take(current):
        if current is None or current.get("direction") != "outbound":
            return None
        status = current.get("status")
        if status == "queued":
            # sentAt: our clock just before the provider's own timestamp of the message, so the
            # watermark that reports it (Messenger: everything sent at or before it) covers it.
            return {"status": "sending", "claimedAt": claim, "sentAt": claim}
        if status == "sending" and not current.get("providerId"):
            claimed = current.get("claimedAt")
            if isinstance(claimed, datetime) and claim - claimed < CLAIM_LEASE:
                raise ClaimedElsewhere(msg_id)
            return {"status": "sending", "claimedAt": claim, "sentAt": claim}   # the earlier claimant died
        return None

    before, changes = repo.transition(conv_id, msg_id, take)
    if not changes:
        return "missing" if before is None else f"already {before.get('status')}"
    conversation = ConversationRepository(ws).get(conv_id) or {}
    channel, sealed = ChannelRepository(ws).get_with_secrets(conversation.get("channelId") or "") \
        if conversation else (None, None)
    if channel is None or channel.get("status", "active") != "active":
        _fail(ws, conv_id, msg_id, "no_channel", "The conversation has no usable channel")
        return "failed: no channel"
    # Counted on the claim, before the provider call: a delivery that dies after it is claimed
    # again later and counts nothing twice (services/analytics.py).
    analytics.outbound_message(ws, {**conversation, "id": conv_id}, before)
    opened = credentials.opened(ws, channel["id"], channel.get("provider"), sealed)
    if opened is None:
        _fail(ws, conv_id, msg_id, "no_credentials", "The channel's credentials are missing or do not open")
        return "failed: no credentials"
    try:
        out = _outbound(repo, ws, conversation, channel, before)
        adapter = adapter_for(channel, opened)
        result = _with_retries(lambda: adapter.send(out))
    except (PermanentSendError, TransientSendError) as exc:
        _fail(ws, conv_id, msg_id, exc.code or "send_failed", exc.message)
        return f"failed: {exc.code}"
    # A provider that answers only once it sent the message (Messenger) reports "sent" at once;
    # others (Twilio) accept it and report back later.
    apply_status(ws, conv_id, msg_id, "sent" if result.status == "sent" else "sending",
                 provider_id=result.provider_id)
    return f"sent {result.provider_id}"


def _outbound(repo, ws: str, conversation: dict, channel: dict, message: dict) -> Outbound:
    metadata = message.get("metadata") or {}
    template = metadata.get("template") or {}
    media_urls, media_kinds = (), ()
    media_ids = message.get("mediaIds") or ([message["mediaId"]] if message.get("mediaId") else [])
    if media_ids:
        from utalk.services import media_urls as urls  # only messages with media pay for signing
        records = MediaRepository(ws).get_many(media_ids)
        if any(m not in records for m in media_ids):
            raise PermanentSendError("The media no longer exists", "media_not_found")
        media_urls = tuple(urls.provider_url(records[m]) for m in media_ids)
        media_kinds = tuple(records[m].get("kind") or "file" for m in media_ids)
    return Outbound(workspace_id=ws, conversation_id=conversation["id"], message_id=message["id"],
                    to=(conversation.get("customer") or {}).get("address", ""), from_=channel["address"],
                    text=message.get("text"), media_urls=media_urls, media_kinds=media_kinds,
                    location=message.get("location"), content_sid=template.get("contentSid"),
                    content_variables=template.get("variables") or {}, options=metadata.get("send") or {})


def _with_retries(send):
    for attempt in range(SEND_ATTEMPTS):
        try:
            return send()
        except TransientSendError as exc:
            if attempt == SEND_ATTEMPTS - 1:
                raise
            log.warning("transient send failure (%s), retrying", exc.message)
            time.sleep(BACKOFF_SECONDS * 2 ** attempt)


def _fail(ws: str, conv_id: str, msg_id: str, code: str, reason: str) -> None:
    apply_status(ws, conv_id, msg_id, "failed", error_code=code, error_message=reason[:500])


# -- statuses (sender and provider callbacks) -----------------------------------------------------
def apply_status(ws: str, conv_id: str, msg_id: str, status: str, *, provider_id: str | None = None,
                 error_code: str | None = None, error_message: str | None = None) -> bool:
    """Move a message's status forward only; returns whether anything changed. Unknown messages and
    stale or out-of-order statuses change nothing. Each change publishes its realtime event."""
    if status not in STATUS_RANK:
        return False
    repo = MessageRepository(ws)

    def decide(current):
        if current is None or current.get("direction") != "outbound":
            return None
        changes = {}
        if provider_id and current.get("providerId") not in (None, provider_id):
            return None  # a callback about another provider message: not ours to apply
        if provider_id and not current.get("providerId"):
            changes["providerId"] = provider_id
        now_rank = STATUS_RANK.get(current.get("status"), 0)
        if STATUS_RANK[status] > now_rank:
            changes["status"] = status
            changes[f"statusAt.{status}"] = firestore.SERVER_TIMESTAMP
            if status in ("failed", "undelivered"):
                changes["errorCode"] = error_code
                changes["errorMessage"] = error_message
        return changes or None

    before, changes = repo.transition(conv_id, msg_id, decide)
    if not changes or "status" not in changes:
        return bool(changes)
    event = STATUS_EVENTS.get(status)
    if event:
        pubsub.wait([events.publish(event, ws, MessageStatusChanged(
            conversationId=conv_id, messageId=msg_id, status=status,
            providerId=provider_id or before.get("providerId"), errorCode=error_code,
            errorMessage=error_message, at=utcnow()), conversation_id=conv_id)])
    return True
