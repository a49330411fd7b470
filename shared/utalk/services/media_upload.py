"""Uploads: multipart through the function, or a signed PUT straight to Cloud Storage.

- `upload_multipart`: `POST /api/v1/media` (1..10 files, body <= 32 MB, the Cloud Functions request
  limit). Each file part streams to Cloud Storage as it arrives (`media/multipart.py`): its first
  bytes decide its type before anything is stored; a file that fits in one chunk is one upload
  request, a larger one a resumable upload in `CHUNK_BYTES` pieces. All records are created in
  one batch with their quota charge; any failure deletes what this request stored.
- `start_signed` / `complete_signed`: `POST /api/v1/media/uploads` checks the declared size and
  type, creates a `pending` record (with `expiresAt`) and returns a V4 signed PUT URL whose
  content type and `x-goog-content-length-range` are signed; `.../complete` checks what actually
  landed (size, magic bytes) before the record becomes `ready` and is counted. Unfinished uploads
  are swept by `media_retention`.
Both check the conversation is visible to the caller, its 1,000 files, the uploader's 10 files per
minute (`utalk/limits.py` MEDIA_UPLOADS) and the workspace's 10 GB (before and, exactly, after counting), and announce
`media:uploaded` to the conversation's room.
"""
from __future__ import annotations

import uuid
from datetime import timedelta

from google.api_core.exceptions import NotFound as GcsNotFound
from google.cloud import firestore
from werkzeug.exceptions import HTTPException

from utalk import clients, errors, events, logs, pubsub, ratelimit
from utalk.auth.tokens import Principal
from utalk.config import settings
from utalk.limits import MEDIA_UPLOADS
from utalk.media import limits, multipart, signing, types
from utalk.models.common import utcnow
from utalk.models.media import Media, MediaUploaded, StartUpload, UploadTicket
from utalk.repositories.conversations import ConversationRepository
from utalk.repositories.media import MediaRepository, Stale
from utalk.services.conversations import ensure_visible, restricted_to
from utalk.services.media_urls import with_url

log = logs.get("media.upload")
CHUNK_BYTES = 4 * 1024 * 1024           # resumable upload chunk (a multiple of 256 KiB): the memory per file


def _charge_upload_rate(principal: Principal) -> None:
    """One file against the uploader's MEDIA_UPLOADS (utalk/limits.py: 10 files a minute, spec).

    Counted here, per file as each arrives, not per request by http.endpoint: one multipart request
    carries up to 10 files, and a refused file must stop the upload before its bytes are stored."""
    ratelimit.take((MEDIA_UPLOADS, f"{principal.workspace_id}/{principal.user_id}"))


def new_media_id() -> str:
    return f"media_{uuid.uuid4()}"


def object_path(workspace_id: str, media_id: str) -> str:
    return f"workspaces/{workspace_id}/media/{media_id}"


def _bucket():
    return clients.storage().bucket(settings().bucket)


def _conversation(principal: Principal, conversation_id: str) -> dict:
    conversation = ConversationRepository(principal.workspace_id).get(conversation_id)
    return ensure_visible(conversation, restricted_to(principal))


def _room_for(repo: MediaRepository, conversation_id: str, adding: int) -> None:
    have = repo.count_in_conversation(conversation_id)
    if have + adding > limits.MAX_FILES_PER_CONVERSATION:
        raise errors.ValidationFailed(f"A conversation holds at most {limits.MAX_FILES_PER_CONVERSATION} files",
                                      code="conversation_media_limit", details={"count": have})


def _quota_exceeded(usage: int) -> errors.ApiError:
    return errors.PayloadTooLarge("The workspace's media storage is full", code="workspace_quota_exceeded",
                                  details={"usageBytes": usage, "quotaBytes": limits.WORKSPACE_QUOTA_BYTES})


def _check_quota(repo: MediaRepository, adding: int) -> None:
    usage = repo.usage_bytes()
    if usage + adding > limits.WORKSPACE_QUOTA_BYTES:
        raise _quota_exceeded(usage)


def _unsupported(detail: str) -> errors.ApiError:
    return errors.UnsupportedMediaType(f"This file type is not accepted ({detail})", code="unsupported_media_type",
                                       details={"accepted": sorted(types.ALLOWED)})


def _inspect_stored(blob) -> types.FileType | None:
    """The type of an object already in the bucket: its first bytes, and for a ZIP its
    `[Content_Types].xml` read through ranged requests (never the whole object)."""
    head = blob.download_as_bytes(start=0, end=types.HEAD_BYTES - 1) if blob.size else b""
    found = types.sniff(head)
    if found is types.ZIP:
        with blob.open("rb", chunk_size=256 * 1024) as reader:
            found = types.ooxml(reader)
    return found


def _delete_objects(paths: list[str]) -> None:
    bucket = _bucket()
    for path in paths:
        try:
            bucket.blob(path).delete()
        except GcsNotFound:
            pass
        except Exception:  # the record is gone, so nothing serves it; retention cannot see it: log it
            log.exception("could not delete orphan media object %s", path)


def _announce(workspace_id: str, records: list[dict]) -> None:
    pubsub.wait([events.publish_all([
        events.message("media:uploaded", workspace_id,
                       MediaUploaded(conversationId=r["conversationId"], media=Media.from_record(r)),
                       conversation_id=r["conversationId"], workspace=False)
        for r in records])])


def _record(principal: Principal, media_id: str, conversation_id: str, ftype: types.FileType, file_name: str,
            **fields) -> dict:
    return {"id": media_id, "workspaceId": principal.workspace_id, "conversationId": conversation_id,
            "bucket": settings().bucket, "path": object_path(principal.workspace_id, media_id),
            "contentType": ftype.mime, "kind": ftype.kind, "fileName": (file_name or media_id)[:255],
            "uploadedBy": principal.user_id, "createdAt": utcnow(), **fields}


# -- multipart -------------------------------------------------------------------------------------
def upload_multipart(principal: Principal, request, own_conversation: str | None = None) -> list[Media]:
    """`own_conversation`: the uploader's only conversation (a web chat visitor's, named by its
    token): the upload goes there, and naming any other is 404 like a conversation one may not see."""
    boundary = multipart.boundary_of(request)
    repo = MediaRepository(principal.workspace_id)
    conversation_id = request.args.get("conversationId") or own_conversation
    checked = False
    records: list[dict] = []
    stored: list[str] = []
    try:
        for part in multipart.parts(request.stream, boundary):
            if not part.is_file:
                if part.name == "conversationId" and not records:
                    conversation_id = part.text() or None
                continue
            if not conversation_id:
                raise errors.BadRequest("Send conversationId (query or a form field before the files)",
                                        code="conversation_required")
            if not checked:  # before the first byte is stored (the files-per-conversation count: at the end)
                if own_conversation is None:
                    _conversation(principal, conversation_id)
                elif conversation_id != own_conversation:
                    raise errors.NotFound("No such conversation", code="conversation_not_found")
                _check_quota(repo, request.content_length or 0)
                checked = True
            if len(records) == limits.MAX_FILES_PER_UPLOAD:
                raise errors.ValidationFailed(f"At most {limits.MAX_FILES_PER_UPLOAD} files per upload",
                                              code="too_many_files")
            _charge_upload_rate(principal)
            media_id = new_media_id()
            path = object_path(principal.workspace_id, media_id)
            stored.append(path)
            ftype, size = _stream_to_storage(part.chunks(), path)
            records.append(_record(principal, media_id, conversation_id, ftype, part.filename, size=size,
                                   quotaBytes=size, status="ready", source={"upload": "multipart"}))
        if not records:
            raise errors.BadRequest("No file in the upload", code="no_files")
        _room_for(repo, conversation_id, len(records))
        repo.create_counted(records)
    except HTTPException as exc:  # werkzeug, while reading the body: over the limit, client gone
        _delete_objects(stored)
        if exc.code == 413:
            raise errors.PayloadTooLarge(f"The upload exceeds {limits.MAX_MULTIPART_BYTES} bytes",
                                         code="payload_too_large") from None
        raise errors.BadRequest("The upload could not be read", code="invalid_multipart") from None
    except BaseException:
        _delete_objects(stored)
        raise
    usage = repo.usage_bytes()  # exact now that this upload is counted; concurrent ones may be too
    if usage > limits.WORKSPACE_QUOTA_BYTES:
        _discard(repo, records)
        raise _quota_exceeded(usage)
    _announce(principal.workspace_id, records)
    return [with_url(r) for r in records]


def _stream_to_storage(chunks, path: str) -> tuple[types.FileType, int]:
    """Store one file part; its type is decided from its first bytes before anything is stored."""
    blob = _bucket().blob(path)
    buffer, size, ftype, writer = bytearray(), 0, None, None
    for data in chunks:
        size += len(data)
        if size > limits.MAX_MULTIPART_BYTES:
            raise errors.PayloadTooLarge(f"A file sent through this route may have at most "
                                         f"{limits.MAX_MULTIPART_BYTES} bytes; use /api/v1/media/uploads",
                                         code="file_too_large")
        if writer is not None:
            writer.write(data)
            continue
        buffer += data
        if ftype is None and len(buffer) >= types.HEAD_BYTES:
            ftype = _sniff_or_refuse(bytes(buffer[:types.HEAD_BYTES]))
        if len(buffer) >= CHUNK_BYTES:
            writer = blob.open("wb", chunk_size=CHUNK_BYTES, content_type=_initial_type(ftype), ignore_flush=True)
            writer.write(bytes(buffer))
            buffer = bytearray()
    if writer is not None:
        writer.close()
    else:
        ftype = ftype or _sniff_or_refuse(bytes(buffer[:types.HEAD_BYTES]))
        blob.upload_from_string(bytes(buffer), content_type=_initial_type(ftype))
    if ftype is types.ZIP:
        blob.reload()
        ftype = _inspect_stored(blob)
        if ftype is None:
            raise _unsupported("an archive that is not a Word, Excel or PowerPoint document")
        blob.content_type = ftype.mime
        blob.patch()
    return ftype, size


def _sniff_or_refuse(head: bytes):
    found = types.sniff(head)
    if found is None:
        raise _unsupported("its content matches no accepted format")
    return found


def _initial_type(ftype) -> str:
    return "application/zip" if ftype is types.ZIP else ftype.mime


# -- signed upload -----------------------------------------------------------------------------------
def start_signed(principal: Principal, body: StartUpload) -> UploadTicket:
    ftype = types.declared(body.contentType)
    if ftype is None:
        raise _unsupported(f"{body.contentType} is not an accepted type")
    if body.sizeBytes > limits.MAX_FILE_BYTES:
        raise errors.PayloadTooLarge(f"Files may have at most {limits.MAX_FILE_BYTES} bytes", code="file_too_large",
                                     details={"maxBytes": limits.MAX_FILE_BYTES})
    repo = MediaRepository(principal.workspace_id)
    _conversation(principal, body.conversationId)
    _room_for(repo, body.conversationId, 1)
    _check_quota(repo, body.sizeBytes)
    _charge_upload_rate(principal)
    media_id = new_media_id()
    now = utcnow()
    record = _record(principal, media_id, body.conversationId, ftype, body.fileName, status="pending",
                     declaredSize=body.sizeBytes, source={"upload": "signed"},
                     expiresAt=now + timedelta(seconds=limits.PENDING_UPLOAD_SECONDS))
    signed_headers = {"x-goog-content-length-range": f"1,{body.sizeBytes}"}
    url = signing.signed_url(record["bucket"], record["path"], method="PUT", seconds=limits.UPLOAD_URL_SECONDS,
                             content_type=ftype.mime, headers=signed_headers)
    repo.create(record)
    return UploadTicket(mediaId=media_id, uploadUrl=url, headers={"Content-Type": ftype.mime, **signed_headers},
                        expiresAt=now + timedelta(seconds=limits.UPLOAD_URL_SECONDS), media=Media.from_record(record))


def complete_signed(principal: Principal, media_id: str) -> tuple[Media, bool]:
    """Returns (media, newly completed). Completing a ready media again returns it unchanged."""
    repo = MediaRepository(principal.workspace_id)
    snap = repo.snapshot(media_id)
    record = snap.to_dict() if snap.exists else None
    if record is None:
        raise errors.NotFound("No such media", code="media_not_found")
    try:
        _conversation(principal, record.get("conversationId") or "-")
    except errors.NotFound:
        raise errors.NotFound("No such media", code="media_not_found") from None
    if record.get("status", "ready") == "ready":
        return with_url(record), False
    if record.get("uploadedBy") != principal.user_id and not principal.at_least("admin"):
        raise errors.Forbidden("Only the uploader may complete this upload", code="not_uploader")
    if record["expiresAt"] <= utcnow():
        raise errors.Conflict("This upload expired; start a new one", code="upload_expired")
    blob = _bucket().get_blob(record["path"])
    if blob is None:
        raise errors.Conflict("Nothing was uploaded yet: PUT the file to uploadUrl first", code="upload_missing")
    size = blob.size or 0
    if size > record["declaredSize"] or size > limits.MAX_FILE_BYTES:
        _discard(repo, [record])
        raise errors.PayloadTooLarge("The uploaded file is larger than declared", code="file_too_large",
                                     details={"declaredBytes": record["declaredSize"], "sizeBytes": size})
    found = _inspect_stored(blob)
    if found is None or found.mime != record["contentType"]:
        _discard(repo, [record])
        raise _unsupported(f"declared {record['contentType']}, content is "
                           f"{found.mime if found else 'no accepted format'}")
    if blob.content_type != found.mime:  # real Cloud Storage enforced the signed type; the emulator does not
        blob.content_type = found.mime
        blob.patch()
    ready = {"status": "ready", "size": size, "completedAt": utcnow(), "expiresAt": firestore.DELETE_FIELD}
    try:
        repo.complete_counted(snap, ready, size)
    except Stale:
        again = repo.get(media_id)
        if again and again.get("status") == "ready":
            return with_url(again), False
        raise errors.Conflict("This upload expired; start a new one", code="upload_expired") from None
    record = {**record, **ready, "quotaBytes": size}
    record.pop("expiresAt")
    usage = repo.usage_bytes()
    if usage > limits.WORKSPACE_QUOTA_BYTES:
        _discard(repo, [record])
        raise _quota_exceeded(usage)
    _announce(principal.workspace_id, [record])
    return with_url(record), True


def _discard(repo: MediaRepository, records: list[dict]) -> None:
    """Nothing kept: the objects, the records and what they counted (records first: a record
    never points at a deleted object)."""
    try:
        repo.delete_counted(records)
    except Stale:
        pass
    _delete_objects([r["path"] for r in records])
