"""What every channel adapter takes and returns: normalised inbound items and status updates (what
a verified provider webhook becomes), outbound messages, and the two kinds of send failure."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class Attachment:
    """A file an inbound message points at, to download at once (provider URLs expire)."""
    url: str
    content_type: str = ""                    # as the provider declares it; "" = the download's own


@dataclass(slots=True)
class InboundItem:
    """One message a provider webhook delivered, in the shape `services/inbound.py` stores.

    `provider` + `provider_message_id` is the dedup key: the stored id derives from them, so a
    retried webhook maps to the same document. Addresses are as conversations name them (E.164 for
    WhatsApp, `fb:<id>` for Messenger); the adapter also gives the conversation id (its channel's rule).
    """
    provider: str                             # id namespace: "twilio", "messenger"
    provider_message_id: str
    customer: str
    business: str
    conversation_id: str
    text: str | None = None
    attachments: tuple[Attachment, ...] = ()
    media: tuple[dict, ...] = ()              # already stored media records (a web visitor's uploads): id, kind
    location: dict | None = None              # {latitude, longitude, label}
    profile: dict = field(default_factory=dict)    # the customer as the webhook describes them: name, waId
    reply_to: str | None = None               # provider id of the message this one answers
    metadata: dict = field(default_factory=dict)   # provider extras kept on the message (postback, quickReply, ...)
    outbound: bool = False                    # the business wrote it elsewhere (Messenger's Page Inbox echo)
    sent_at: datetime | None = None           # outbound: when the provider says it was sent


@dataclass(frozen=True)
class Watermark:
    """Every outbound message of one conversation sent at or before `at` reached `status`
    (Messenger's delivery and read events)."""
    workspace_id: str
    conversation_id: str
    status: str                               # delivered | read
    at: datetime


@dataclass(frozen=True)
class StatusUpdate:
    """One outbound message's status as its provider reports it (Twilio's status callbacks)."""
    workspace_id: str
    conversation_id: str
    message_id: str
    status: str
    provider_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class Outbound:
    workspace_id: str
    conversation_id: str
    message_id: str
    to: str                                   # customer address, e.g. +5215512345678, fb:<psid>
    from_: str                                # our channel address
    text: str | None = None
    media_urls: tuple[str, ...] = ()
    media_kinds: tuple[str, ...] = ()         # image|audio|video|file per media URL (Messenger needs it)
    location: dict | None = None
    content_sid: str | None = None
    content_variables: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)   # what the channel's rules decided at queue time (messaging tag)


@dataclass(frozen=True)
class SendResult:
    provider_id: str
    status: str                               # provider's status at acceptance (queued, accepted, sent)


class SendError(Exception):
    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message, self.code = message, code


class TransientSendError(SendError):
    """Worth retrying: provider 5xx or 429, rate limits, timeouts, connection failures."""


class PermanentSendError(SendError):
    """Retrying cannot help: invalid number, unapproved template, auth failure, window closed..."""
