"""Messages: stored shape, API output and the agent's send request."""
from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from utalk.models.common import UUID4, Input, Output, Timestamp

MAX_TEXT = 4096
MAX_MEDIA = 10                           # spec: messages.maxMediaPerMessage
MessageType = Literal["text", "image", "audio", "video", "file", "location", "sticker", "template"]
MessageStatus = Literal["received", "queued", "sending", "sent", "delivered", "read", "failed", "undelivered"]
SenderType = Literal["customer", "agent", "bot", "system"]

# Forward-only ordering of statuses; failed/undelivered are terminal (nothing moves past them).
STATUS_RANK = {"received": 0, "queued": 0, "sending": 1, "sent": 2, "delivered": 3, "read": 4,
               "failed": 5, "undelivered": 5}


class Location(Input):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    label: str | None = Field(default=None, max_length=256)


class Template(Input):
    """An approved WhatsApp template (Twilio Content API): allowed outside the 24 h window."""
    contentSid: str = Field(pattern=r"^HX[0-9a-fA-F]{32}$")
    # Content API placeholders are named ("1", "2", "name"); Firestore refuses an empty map key.
    variables: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,64}$")], Annotated[str, Field(max_length=1024)]] = \
        Field(default_factory=dict, max_length=50)


class SendMessage(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"conversationId": "conv_+14155238886_+5215512345678", "messageId": "6f1c2b0e-9a8d-4c3b-8a7e-1d2c3b4a5f60", "text": "Hola, ¿en qué te ayudo?"}]})

    conversationId: str = Field(min_length=1, max_length=200)
    messageId: str = Field(pattern=UUID4)   # client UUID v4: the idempotency key
    text: str | None = Field(default=None, max_length=MAX_TEXT)
    mediaId: str | None = Field(default=None, max_length=200)       # one attachment (the spec's field)
    mediaIds: list[str] = Field(default_factory=list, max_length=MAX_MEDIA)  # or several, in order
    location: Location | None = None
    template: Template | None = None

    @field_validator("messageId")
    @classmethod
    def _uuid4(cls, v: str) -> str:
        try:
            parsed = uuid.UUID(v)
        except ValueError:
            raise ValueError("must be a UUID v4") from None
        if parsed.version != 4:
            raise ValueError("must be a UUID v4")
        return str(parsed)

    @model_validator(mode="after")
    def _one_content(self):
        if self.text is not None and not self.text.strip():
            self.text = None
        if self.mediaId and self.mediaIds:
            raise ValueError("send mediaId or mediaIds, not both")
        if self.mediaId:
            self.mediaIds = [self.mediaId]
        if any(not m or len(m) > 200 for m in self.mediaIds):
            raise ValueError("mediaIds must be media ids")
        self.mediaIds = list(dict.fromkeys(self.mediaIds))
        self.mediaId = self.mediaIds[0] if self.mediaIds else None
        if not (self.text or self.mediaIds or self.location or self.template):
            raise ValueError("one of text, mediaId(s), location or template is required")
        if self.location and (self.mediaIds or self.template):
            raise ValueError("location cannot be combined with media or a template")
        return self


class MessageLocation(Output):
    latitude: float
    longitude: float
    label: str | None = None


class Message(Output):
    id: str
    conversationId: str
    workspaceId: str
    messageId: str | None = None
    providerId: str | None = None
    type: MessageType = "text"
    text: str | None = None
    mediaId: str | None = None
    mediaIds: list[str] = []
    location: MessageLocation | None = None
    sender: str | None = None
    senderType: SenderType
    senderId: str | None = None
    direction: Literal["inbound", "outbound"]
    status: MessageStatus
    errorCode: str | None = None
    errorMessage: str | None = None
    metadata: dict = {}
    sentAt: Timestamp | None = None          # handed to the provider (outbound)
    createdAt: Timestamp | None = None
    updatedAt: Timestamp | None = None

    @field_validator("mediaIds", mode="before")
    @classmethod
    def _none_is_empty(cls, v):
        return v or []


class MessageQuery(Input):
    limit: int = Field(default=50, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=500)
