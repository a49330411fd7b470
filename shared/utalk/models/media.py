"""Media: the API's view of a media record, the signed-upload request and ticket, the event payload.

Stored records (`workspaces/{ws}/media/{mediaId}`) keep the storage names inbound media already
use (`contentType`, `size`, `kind`, `bucket`, `path`); the API speaks the spec's (`mimeType`,
`sizeBytes`, `type`). `url` and `publicUrl` are the same short-lived signed URL, minted per read:
no object is ever public and no URL is stored.
"""
from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from utalk.models.common import Input, Output, Timestamp

MediaStatus = Literal["pending", "ready"]


class Media(Output):
    id: str
    conversationId: str | None = None
    messageId: str | None = None
    type: str = "file"                      # image | audio | video | file (sticker for inbound webp)
    mimeType: str
    fileName: str | None = None
    sizeBytes: int | None = None
    status: MediaStatus = "ready"
    uploadedBy: str | None = None
    createdAt: Timestamp | None = None
    url: str | None = None
    publicUrl: str | None = None
    urlExpiresAt: Timestamp | None = None

    @classmethod
    def from_record(cls, record: dict, url: str | None = None, url_expires_at=None) -> "Media":
        return cls(id=record["id"], conversationId=record.get("conversationId"), messageId=record.get("messageId"),
                   type=record.get("kind") or "file", mimeType=record.get("contentType") or "application/octet-stream",
                   fileName=record.get("fileName"), sizeBytes=record.get("size"),
                   status=record.get("status") or "ready", uploadedBy=record.get("uploadedBy"),
                   createdAt=record.get("createdAt"), url=url, publicUrl=url, urlExpiresAt=url_expires_at)


class StartUpload(Input):
    """`POST /api/v1/media/uploads`: what the client is about to PUT (size and type are signed)."""
    model_config = ConfigDict(json_schema_extra={"examples": [{"conversationId": "conv_+14155238886_+5215512345678", "fileName": "foto.jpg", "contentType": "image/jpeg", "sizeBytes": 204800}]})

    conversationId: str = Field(min_length=1, max_length=300)
    fileName: str = Field(min_length=1, max_length=255)
    contentType: str = Field(min_length=3, max_length=255)
    sizeBytes: int = Field(ge=1)           # the 100 MB cap is a 413, checked by the service


class UploadTicket(Output):
    mediaId: str
    uploadUrl: str
    method: Literal["PUT"] = "PUT"
    headers: dict[str, str]                # send exactly these with the PUT (they are signed)
    expiresAt: Timestamp
    media: Media


class MediaUploaded(Output):
    """`media:uploaded`: a file was stored for a conversation (no URL: readers ask for a fresh one)."""
    conversationId: str
    media: Media
