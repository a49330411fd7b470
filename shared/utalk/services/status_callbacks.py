"""Provider status reports of outbound messages, whatever the channel: statuses only move forward.

A channel adapter verifies its provider's webhook and turns it into status updates
(`channels/base.py`). Unknown messages change nothing, so providers do not retry them forever.
"""
from __future__ import annotations

from utalk import errors
from utalk.channels.base import StatusUpdate
from utalk.services import messaging


def apply(update: StatusUpdate | None) -> bool:
    if update is None:
        return False   # e.g. "accepted", "scheduled": nothing to record
    try:
        return messaging.apply_status(update.workspace_id, update.conversation_id, update.message_id, update.status,
                                      provider_id=update.provider_id, error_code=update.error_code,
                                      error_message=update.error_message)
    except errors.NotFound:  # malformed ids in a validly signed URL: nothing to update
        return False
