"""Reading a multipart/form-data body as a stream of parts, each file part as a stream of chunks.

werkzeug's form parser would spool every file to a temporary file first, and on Cloud Functions
the temporary filesystem is memory. This uses werkzeug's sans-IO `MultipartDecoder` on the request
stream directly, so a file's bytes pass through in pieces of at most `READ_BYTES` (plus the
decoder's boundary look-behind) on their way to Cloud Storage.
"""
from __future__ import annotations

from typing import Iterator

from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from utalk import errors

READ_BYTES = 256 * 1024
MAX_FIELD_BYTES = 4096          # form fields here are ids, never content
MAX_PARTS = 32


class Part:
    """One part; read a file's bytes with `chunks()` or a field's value with `text()`, once."""

    def __init__(self, event, events: Iterator):
        self.name = event.name
        self.filename = getattr(event, "filename", None)
        self.is_file = isinstance(event, File)
        self._events = events
        self._done = False

    def chunks(self) -> Iterator[bytes]:
        while not self._done:
            event = next(self._events, None)
            if not isinstance(event, Data):
                raise errors.BadRequest("Malformed multipart body", code="invalid_multipart")
            self._done = not event.more_data
            if event.data:
                yield event.data

    def text(self) -> str:
        value = b""
        for chunk in self.chunks():
            value += chunk
            if len(value) > MAX_FIELD_BYTES:
                raise errors.BadRequest(f"Form field {self.name} is too long", code="invalid_multipart")
        return value.decode("utf-8", "replace").strip()

    def drain(self) -> None:
        for _ in self.chunks():
            pass


def boundary_of(request) -> bytes:
    if request.mimetype != "multipart/form-data":
        raise errors.UnsupportedMediaType("Body must be multipart/form-data")
    boundary = request.mimetype_params.get("boundary", "")
    if not 1 <= len(boundary) <= 70:
        raise errors.BadRequest("multipart/form-data needs a boundary", code="invalid_multipart")
    return boundary.encode("latin-1", "replace")


def parts(stream, boundary: bytes) -> Iterator[Part]:
    """Every part in order; a part the caller left unread is skipped before the next one."""
    events = _events(stream, boundary)
    for event in events:
        if isinstance(event, (Field, File)):
            part = Part(event, events)
            yield part
            part.drain()


def _events(stream, boundary: bytes):
    decoder = MultipartDecoder(boundary, max_parts=MAX_PARTS)
    while True:
        data = stream.read(READ_BYTES)
        try:
            decoder.receive_data(data or None)
            event = decoder.next_event()
            while not isinstance(event, (NeedData, Epilogue)):
                yield event
                event = decoder.next_event()
        except ValueError:
            raise errors.BadRequest("Malformed multipart body", code="invalid_multipart") from None
        if isinstance(event, Epilogue):
            return
        if not data:
            raise errors.BadRequest("The multipart body ended early", code="invalid_multipart")
