"""The visitor API's request bodies and what a visitor is shown of a message."""
from __future__ import annotations

import uuid

from pydantic import Field, field_validator, model_serializer, model_validator

from utalk.models.common import UUID4, Input, Output, Page, Timestamp
from utalk.models.messages import MAX_TEXT


class OpenSession(Input):
    """A new anonymous visitor (empty body); a returning one (`refreshToken`); or a visitor the host
    site vouches for: `identifier` with `identifierHash` = hex HMAC-SHA256(identitySecret, identifier)."""
    refreshToken: str | None = Field(default=None, max_length=2000)
    identifier: str | None = Field(default=None, min_length=1, max_length=200)
    identifierHash: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")
    name: str | None = Field(default=None, min_length=1, max_length=100)


class SignOut(Input):
    """The visitor ends the chat: its refresh token (and every one rotated from it) stops working."""
    refreshToken: str = Field(min_length=1, max_length=2000)


class VisitorBlocked(Output):
    """A conversation's web visitor blocked: how many of its refresh families were revoked."""
    conversationId: str
    blocked: bool
    revokedSessions: int


class VisitorMessage(Input):
    """Text, an attachment the visitor uploaded to its conversation (`mediaId`), or both."""
    # client UUID v4 (crypto.randomUUID()): a retried send is stored once; the pattern is in the contract
    messageId: str = Field(pattern=UUID4)
    text: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT, pattern=r"\S")   # not blank
    mediaId: str | None = Field(default=None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _text_or_media(self) -> "VisitorMessage":
        if self.text is None and self.mediaId is None:
            raise ValueError("send text, mediaId or both")
        return self

    @field_validator("messageId")
    @classmethod
    def _uuid4(cls, v: str) -> str:
        try:
            if uuid.UUID(v).version != 4:
                raise ValueError
        except (ValueError, AttributeError):
            raise ValueError("must be a UUID v4") from None
        return v.lower()

    @field_validator("text")
    @classmethod
    def _not_blank(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must not be blank")
        return v


class Typing(Input):
    typing: bool


class HistoryQuery(Input):
    limit: int = Field(default=30, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=500)


class Shown(Output):
    """A message as its visitor sees it: no internal ids, metadata or error details."""
    id: str
    messageId: str | None = None              # the visitor's own id of a message they sent
    type: str
    text: str | None = None
    mediaId: str | None = None                # its file: GET /webchat/{key}/media/{mediaId}
    direction: str
    senderType: str                           # customer (the visitor) | bot | agent
    status: str
    createdAt: Timestamp | None = None

    @model_serializer(mode="wrap")
    def _without_empty_media(self, handler):
        # mediaId only on a message that has a file: a text's shape stays what clients already read.
        data = handler(self)
        if data.get("mediaId") is None:
            data.pop("mediaId", None)
        return data

    @classmethod
    def of(cls, message: dict, visitor_id: str) -> "Shown":
        own = message.get("direction") == "inbound"
        # providerId is "<visitor>:<messageId>"; a message carried over from the visitor's
        # anonymous conversation names that visitor, so the prefix is cut whatever it is.
        client_id = (message.get("providerId") or "").rpartition(":")[2] if own else None
        return cls(id=message["id"], messageId=client_id, type=message.get("type") or "text",
                   text=message.get("text"), mediaId=message.get("mediaId"), direction=message["direction"],
                   senderType=message["senderType"],
                   status=message.get("status") or "received", createdAt=message.get("createdAt"))


# -- the visitor API's answers (docs/openapi.json) ---------------------------------------------------
class VisitorSession(Output):
    """A visitor's session: the access and refresh tokens (expiry in epoch seconds) and the
    conversation they write to, with the widget's settings."""
    visitorId: str
    conversationId: str
    token: str
    expiresAt: int
    refreshToken: str
    refreshExpiresAt: int
    identified: bool
    resumed: bool
    widget: dict
    mergedFrom: str | None = None             # the anonymous conversation carried into this one


class VisitorMessageSent(Output):
    """A visitor's message stored (201), or the one already stored under its messageId (200)."""
    id: str
    messageId: str
    conversationId: str
    status: str


class VisitorAgent(Output):
    id: str
    name: str | None = None


class VisitorHistory(Page[Shown]):
    """The conversation newest first; the first page also says its status, who answers it and
    whether the business has read everything the visitor sent (an agent opened the conversation
    since the visitor's last message)."""
    status: str | None = None
    agent: VisitorAgent | None = None
    read: bool | None = None


class VisitorRead(Output):
    read: int                                 # messages to the visitor newly marked read
