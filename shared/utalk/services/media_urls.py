"""Reading media: the record and a short-lived signed download URL, for callers who may see the
media's conversation, and the URLs a provider fetches outbound attachments from."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from utalk import errors
from utalk.auth.tokens import Principal
from utalk.media import limits, signing
from utalk.models.common import utcnow
from utalk.models.media import Media
from utalk.repositories.conversations import ConversationRepository
from utalk.repositories.media import MediaRepository
from utalk.services.conversations import ensure_visible, restricted_to


def download_url(record: dict, *, attachment: bool = True) -> tuple[str, object]:
    """(signed GET URL, its expiry). The response's Content-Type is the checked type of the record
    (signed as `response-content-type`), so what a reader or a provider sees is what we verified."""
    disposition = None
    if attachment:
        disposition = f"attachment; filename*=UTF-8''{quote(record.get('fileName') or record['id'], safe='')}"
    url = signing.signed_url(record["bucket"], record["path"], seconds=limits.DOWNLOAD_URL_SECONDS,
                             response_type=record.get("contentType"), disposition=disposition)
    return url, utcnow() + timedelta(seconds=limits.DOWNLOAD_URL_SECONDS)


def provider_url(record: dict) -> str:
    """The URL a channel's provider fetches an outbound attachment from (Twilio: MediaUrl)."""
    return download_url(record, attachment=False)[0]


def with_url(record: dict) -> Media:
    if (record.get("status") or "ready") != "ready":
        return Media.from_record(record)
    url, expires = download_url(record)
    return Media.from_record(record, url, expires)


def get(principal: Principal, media_id: str) -> Media:
    """404 for a media of another workspace (the path is scoped), a missing one, or one whose
    conversation the caller may not see: indistinguishable, so ids cannot be probed."""
    ws = principal.workspace_id
    record = MediaRepository(ws).get(media_id)
    if record is None:
        raise errors.NotFound("No such media", code="media_not_found")
    conversation = ConversationRepository(ws).get(record.get("conversationId") or "-")
    try:
        ensure_visible(conversation, restricted_to(principal))
    except errors.NotFound:
        raise errors.NotFound("No such media", code="media_not_found") from None
    return with_url(record)


def get_in(workspace_id: str, conversation_id: str, media_id: str) -> Media:
    """A media of one conversation only (a web chat visitor's own): any other is 404 `media_not_found`."""
    record = MediaRepository(workspace_id).get(media_id)
    if record is None or record.get("conversationId") != conversation_id:
        raise errors.NotFound("No such media", code="media_not_found")
    return with_url(record)
