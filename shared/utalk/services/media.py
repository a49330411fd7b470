"""Inbound media: download through the channel's adapter (from the provider's own hosts only,
`channels/fetch.py`), store in Cloud Storage, and describe it as a media record
(`workspaces/{ws}/media/{mediaId}`) linked to its message."""
from __future__ import annotations

import mimetypes
import uuid

from google.cloud import firestore

from utalk import clients, logs
from utalk.channels.fetch import MediaRefused
from utalk.config import settings

log = logs.get("media")
NAMESPACE = uuid.UUID("5b0e7c64-2f0b-4c59-9d0c-2f9b4f6a1c10")


def media_id(provider: str, provider_message_id: str, index: int) -> str:
    """Deterministic: a retried webhook re-uploads to the same object and record, never a copy."""
    return f"media_{uuid.uuid5(NAMESPACE, f'{provider}:{provider_message_id}:{index}')}"


def kind(content_type: str) -> str:
    major = (content_type or "").split("/", 1)[0]
    if content_type == "image/webp":
        return "sticker"
    return {"image": "image", "audio": "audio", "video": "video"}.get(major, "file")


def store_inbound(adapter, workspace_id: str, conversation_id: str, message_id: str, provider: str,
                  provider_message_id: str, items: list[tuple[str, str]]) -> tuple[list[dict], list[dict]]:
    """Download each (url, contentType); returns (media records, errors). A refused or failed
    download is recorded on the message (`metadata.mediaErrors`: index, url, code, error) instead of
    failing the webhook (the text must not be lost)."""
    records, failures = [], []
    bucket = clients.storage().bucket(settings().bucket)
    for index, (url, declared_type) in enumerate(items):
        mid = media_id(provider, provider_message_id, index)
        try:
            data, content_type = adapter.download(url)
        except Exception as exc:  # not the provider's host, too large, provider down, gone: keep going
            code = exc.code if isinstance(exc, MediaRefused) else "media_fetch_failed"
            log.warning("media download refused or failed for %s: %s (%s)", provider_message_id, code, exc)
            failures.append({"index": index, "url": (url or "")[:500], "code": code, "error": str(exc)[:200]})
            continue
        content_type = declared_type or content_type
        ext = mimetypes.guess_extension(content_type) or ""
        path = f"workspaces/{workspace_id}/media/{mid}{ext}"
        bucket.blob(path).upload_from_string(data, content_type=content_type)
        records.append({"id": mid, "workspaceId": workspace_id, "conversationId": conversation_id,
                        "messageId": message_id, "bucket": bucket.name, "path": path,
                        "contentType": content_type, "size": len(data), "kind": kind(content_type),
                        "source": {"provider": provider, "url": url}, "createdAt": firestore.SERVER_TIMESTAMP})
    return records, failures
