"""Media limits: the platform's (spec) and each channel's (provider), one table keyed by channel type.

A new channel is one more row of `CHANNELS`; the outbound path only reads the row of the
conversation's channel, so it never names a provider.
"""
from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024

MAX_FILE_BYTES = 100 * MB               # spec: maxFileSize (signed-URL uploads)
MAX_MULTIPART_BYTES = 32 * MB           # a Cloud Function's request limit: the multipart route's body
MAX_FILES_PER_UPLOAD = 10               # spec: maxFilesPerUpload
MAX_FILES_PER_CONVERSATION = 1000       # spec: media.maxFilesPerConversation
MAX_MEDIA_PER_MESSAGE = 10              # spec: messages.maxMediaPerMessage
WORKSPACE_QUOTA_BYTES = 10 * 1024 * MB  # spec: maxStoragePerWorkspace
RETENTION_DAYS = 730                    # spec: retentionPeriod 2 years (workspace `settings.mediaRetentionDays`)
UPLOAD_URL_SECONDS = 15 * 60            # a signed PUT URL's validity
DOWNLOAD_URL_SECONDS = 10 * 60          # a signed GET URL's validity (API readers and providers)
PENDING_UPLOAD_SECONDS = 60 * 60        # an unfinished signed upload is swept after this


@dataclass(frozen=True)
class ChannelLimits:
    """What one provider accepts in an outbound message."""
    max_bytes: int                                  # any one file
    max_bytes_by_kind: dict[str, int]               # tighter caps per media kind (image, audio, ...)
    mime_types: frozenset[str]                      # accepted content types
    media_per_message: int                          # attachments one provider message carries

    def max_for(self, kind: str) -> int:
        return self.max_bytes_by_kind.get(kind, self.max_bytes)


_WHATSAPP_TYPES = frozenset({
    "image/jpeg", "image/png", "image/webp",
    "audio/ogg", "audio/amr", "audio/aac", "audio/mpeg", "audio/mp4",
    "video/mp4", "video/3gpp",
    "application/pdf", "text/vcard",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
})

CHANNELS: dict[str, ChannelLimits] = {
    # Twilio WhatsApp: 16 MB per message, images 5 MB; one attachment per message (more are ignored).
    "whatsapp": ChannelLimits(max_bytes=16 * MB, max_bytes_by_kind={"image": 5 * MB}, mime_types=_WHATSAPP_TYPES,
                              media_per_message=1),
    # Messenger Send API: attachments up to 25 MB, one per message.
    "facebook": ChannelLimits(max_bytes=25 * MB, max_bytes_by_kind={}, media_per_message=1, mime_types=frozenset({
        "image/jpeg", "image/png", "image/gif", "image/webp", "audio/mpeg", "audio/mp4", "audio/ogg", "audio/aac",
        "video/mp4", "video/3gpp", "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation"})),
}


def for_channel(channel_type: str | None) -> ChannelLimits | None:
    """The provider's limits for a conversation's channel; None: only the platform's limits apply."""
    return CHANNELS.get(channel_type or "")


def media_per_message(channel_type: str | None) -> int:
    """Attachments one provider message carries on this channel (the platform's cap otherwise)."""
    row = for_channel(channel_type)
    return row.media_per_message if row else MAX_MEDIA_PER_MESSAGE
