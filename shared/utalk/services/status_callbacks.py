"""Provider status reports of outbound messages, whatever the channel: statuses only move forward.

A channel adapter verifies its provider's webhook and turns it into status updates
(`channels/base.py`): per message (Twilio's status callbacks) or as a watermark over a
conversation (Messenger's delivery and read events: every outbound message sent at or before it).
Unknown messages change nothing, so providers do not retry them forever.
"""
from __future__ import annotations

from datetime import timedelta

from utalk import errors
from utalk.channels.base import StatusUpdate, Watermark
from utalk.services import messaging

# A watermark moves at most this many messages per query and this many queries per event: a
# conversation's backlog of unconfirmed messages is small, and the next watermark moves the rest.
WATERMARK_PAGE = 100
WATERMARK_PAGES = 10
# A message's sentAt is our clock just before the Send API call; the watermark is Meta's timestamp
# of its own copy, in milliseconds, normally later by the call's own time. This much slack absorbs
# the rounding and a clock skew between the two, which would otherwise leave the last message of
# a conversation "sent" for good; the price is that one sent within it after the watermark's own
# message may show delivered (or read) a moment early.
WATERMARK_SLACK = timedelta(seconds=1)


def apply(update: StatusUpdate | None) -> bool:
    if update is None:
        return False   # e.g. "accepted", "scheduled": nothing to record
    try:
        return messaging.apply_status(update.workspace_id, update.conversation_id, update.message_id, update.status,
                                      provider_id=update.provider_id, error_code=update.error_code,
                                      error_message=update.error_message)
    except errors.NotFound:  # malformed ids in a validly signed URL: nothing to update
        return False


def apply_watermark(mark: Watermark) -> int:
    """Move every outbound message of the conversation sent at or before `mark.at` to its status
    (forward only); returns how many moved. The query reads only messages still below that status
    (status and sentAt, `repositories/queries.MESSAGES_AWAITING`), never the whole conversation,
    and the same watermark twice finds nothing the second time."""
    from utalk.repositories.messages import MessageRepository

    repo, moved = MessageRepository(mark.workspace_id), 0
    for _ in range(WATERMARK_PAGES):
        try:
            found = repo.awaiting(mark.conversation_id, mark.status, mark.at + WATERMARK_SLACK, WATERMARK_PAGE)
        except errors.NotFound:  # a conversation id that names nothing
            return moved
        for message in found:
            moved += messaging.apply_status(mark.workspace_id, mark.conversation_id, message["id"], mark.status)
        if len(found) < WATERMARK_PAGE:
            break
    return moved
