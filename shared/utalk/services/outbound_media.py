"""Attachments of an agent's message: checked against the channel's limits before anything is
queued, and split into as many provider messages as the channel needs.

Channel-agnostic: the limits come from `media/limits.CHANNELS`, keyed by the conversation's
channel type. A channel that carries one attachment per message (WhatsApp, Messenger) gets one
stored message per attachment, as a customer's album arrives: each has its own provider id and
status, and the text rides with the first. Their ids derive from the client's `messageId`, so a
retried send queues nothing twice.
"""
from __future__ import annotations

import uuid

from utalk import errors
from utalk.media import limits
from utalk.repositories.media import MediaRepository


def _refuse(code: str, message: str, **details) -> errors.ApiError:
    return errors.ValidationFailed(message, code=code, details=details)


def checked(workspace_id: str, conversation: dict, media_ids: list[str]) -> list[dict]:
    """The media records, in order, or a 422 naming the first that cannot go out on this channel."""
    found = MediaRepository(workspace_id).get_many(media_ids)
    channel = conversation.get("channel")
    allowed = limits.for_channel(channel)
    records = []
    for media_id in media_ids:
        record = found.get(media_id)
        if record is None:
            raise _refuse("media_not_found", "Unknown mediaId", mediaId=media_id)
        if (record.get("status") or "ready") != "ready":
            raise _refuse("media_not_ready", "This upload is not complete yet", mediaId=media_id)
        if record.get("conversationId") != conversation.get("id"):
            raise _refuse("media_conversation_mismatch", "This media belongs to another conversation",
                          mediaId=media_id)
        if allowed is not None:
            if record.get("contentType") not in allowed.mime_types:
                raise _refuse("media_type_not_supported", f"{channel} does not accept {record.get('contentType')}",
                              mediaId=media_id, mimeType=record.get("contentType"), channel=channel)
            cap = allowed.max_for(record.get("kind") or "file")
            if (record.get("size") or 0) > cap:
                raise _refuse("media_too_large_for_channel", f"{channel} accepts at most {cap} bytes for this file",
                              mediaId=media_id, sizeBytes=record.get("size"), maxBytes=cap, channel=channel)
        records.append(record)
    return records


def parts(message_id: str, records: list[dict], channel: str | None) -> list[tuple[str, list[dict]]]:
    """(message id, its attachments) for each stored message one send becomes; the first keeps
    the client's id."""
    per_message = limits.media_per_message(channel)
    groups = [records[i:i + per_message] for i in range(0, len(records), per_message)] or [[]]
    return [(message_id if i == 0 else str(uuid.uuid5(uuid.UUID(message_id), f"part:{i}")), group)
            for i, group in enumerate(groups)]
