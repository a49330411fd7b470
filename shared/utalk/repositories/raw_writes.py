"""Atomic write batches built as raw protobuf, for the hot paths (messages, send rate limits).

google-cloud-firestore turns each write into proto-plus wrappers: one inbound message (a
17-field message plus a conversation merge with transforms) costs ~56 wrapper objects and about
1 ms of CPU, more than the rest of the request. This builds the same `CommitRequest` with the
generated protobuf classes and sends it on the client's own channel (utalk.rpc) with the
metadata and retry policy `WriteBatch.commit` uses. The semantics are the library's:
keys walked in sorted order, nested dicts become field paths, sentinels (SERVER_TIMESTAMP,
Increment, ...) become field transforms sorted by path, merge masks list every written leaf.
tests/unit/test_raw_writes.py checks each request equals the one `WriteBatch` would send.

`commit(grouped=True)` lets concurrent batches share one Commit (utalk/coalesce.py): Commit applies
its writes atomically and in order, so each batch's writes and transform results are what they would
be alone, and the Firestore round trip, the request's fixed costs and the server's per-commit work are
paid once per group instead of once per message.
"""
from __future__ import annotations

import datetime
import functools

from google.api_core.gapic_v1.routing_header import to_grpc_metadata
from google.cloud.firestore_v1 import _helpers, transforms
from google.cloud.firestore_v1.field_path import render_field_path
from google.cloud.firestore_v1.types import firestore, write

from utalk import rpc
from utalk.coalesce import Coalescer
from utalk.repositories.transforms import is_sentinel

Write = write.Write.pb()   # the raw message, also for writes built directly (ratelimit._count)
_Commit = firestore.CommitRequest.pb()
_REQUEST_TIME = write.DocumentTransform.FieldTransform.ServerValue.REQUEST_TIME.value
COMMIT_RETRY = frozenset({"RESOURCE_EXHAUSTED", "UNAVAILABLE"})  # Firestore's default for Commit


class Batch:
    """Collects writes; `commit()` sends them as one atomic CommitRequest.

    Returns the raw `WriteResult`s in write order (`transforms.transform_result` reads them).
    """

    def __init__(self, db):
        self.db = db
        self.writes: list = []

    def create(self, ref, data: dict) -> "Batch":
        w = self._update(ref, data, allow_delete=False)
        w.current_document.exists = False
        return self

    def set(self, ref, data: dict, merge: bool = False) -> "Batch":
        self._update(ref, data, allow_delete=merge, mask=merge)
        return self

    def commit(self, grouped: bool = False) -> list:
        """`grouped`: in one Commit with what other threads commit meanwhile. Still all or nothing
        for this batch; a group refused for one batch's fault (say, a `create` of an existing
        document) is sent again batch by batch, so only that batch fails."""
        if grouped:
            return _group(self.db).submit(self.writes, 30.0)
        method, metadata = _commit(self.db)
        return list(method.call(_Commit(database=self.db._database_string, writes=self.writes), metadata).write_results)

    def _update(self, ref, data: dict, *, allow_delete: bool, mask: bool = False):
        w = Write()
        self.writes.append(w)
        w.update.name = ref._document_path
        fields, masked, changes = w.update.fields, [], []
        _walk(data, (), fields, masked, changes, allow_delete)
        if mask:
            w.update_mask.SetInParent()
            w.update_mask.field_paths.extend(_rendered(p) for p in masked)
        for path, sentinel in changes:  # already in path order: the walk is sorted
            _transform(w.update_transforms.add(), _rendered(path), sentinel)
        return w


# A field path's rendering (quoting keys that are not simple names): every message writes the same
# few dozen paths, so they are rendered once per instance, not once per write.
_rendered = functools.lru_cache(maxsize=4096)(render_field_path)
# Plain values, encoded without the sentinel and nested-map checks (exact types: a subclass, such as
# the library's DatetimeWithNanoseconds, takes the general path).
_PLAIN = frozenset({str, int, float, bool, type(None), datetime.datetime})


def _walk(data: dict, prefix: tuple, fields, masked: list, changes: list, allow_delete: bool) -> None:
    for key in sorted(data):
        value, path = data[key], prefix + (key,)
        if type(value) in _PLAIN:
            _encode(fields[key], value)
            masked.append(path)
        elif isinstance(value, dict) and value:
            # A nested map exists only if some leaf under it holds data (not only sentinels).
            nested = fields[key].map_value.fields if _has_data(value) else None
            _walk(value, path, nested, masked, changes, allow_delete)
        elif value is transforms.DELETE_FIELD:
            if not allow_delete:
                raise ValueError("DELETE_FIELD is only allowed in a merge")
            masked.append(path)
        elif is_sentinel(value):
            changes.append((path, value))
        else:
            _encode(fields[key], value)
            masked.append(path)


def _has_data(data: dict) -> bool:
    return any(not is_sentinel(v) and (not isinstance(v, dict) or not v or _has_data(v)) for v in data.values())


def _transform(t, path: str, sentinel) -> None:
    t.field_path = path
    if sentinel is transforms.SERVER_TIMESTAMP:
        t.set_to_server_value = _REQUEST_TIME
    elif isinstance(sentinel, transforms.Increment):
        _encode(t.increment, sentinel.value)
    elif isinstance(sentinel, transforms.Maximum):
        _encode(t.maximum, sentinel.value)
    elif isinstance(sentinel, transforms.Minimum):
        _encode(t.minimum, sentinel.value)
    elif isinstance(sentinel, transforms.ArrayUnion):
        _encode(t.append_missing_elements, list(sentinel.values), array=True)
    elif isinstance(sentinel, transforms.ArrayRemove):
        _encode(t.remove_all_from_array, list(sentinel.values), array=True)
    else:
        raise ValueError(f"Unsupported sentinel at {path}: {sentinel!r}")


def _encode(target, value, array: bool = False) -> None:
    """Write a Python value into a `Value` message in place (or an `ArrayValue` when `array`)."""
    if type(value) is str:   # the common cases first, by exact type
        target.string_value = value
    elif type(value) is datetime.datetime:
        _timestamp(target, value)
    elif array:
        target.SetInParent()
        for item in value:
            _encode(target.values.add(), item)
    elif value is None:
        target.null_value = 0
    elif isinstance(value, bool):
        target.boolean_value = value
    elif isinstance(value, int):
        target.integer_value = value
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, dict):
        target.map_value.SetInParent()
        for key, item in value.items():
            _encode(target.map_value.fields[key], item)
    elif isinstance(value, (list, tuple)):
        _encode(target.array_value, value, array=True)
    elif isinstance(value, datetime.datetime) and not hasattr(value, "timestamp_pb"):
        _timestamp(target, value)
    else:  # bytes, GeoPoint, Vector, DocumentReference, nanosecond datetimes: the library's encoder
        target.CopyFrom(_helpers.encode_value(value)._pb)


_EPOCH, _ZERO = datetime.datetime(1970, 1, 1), datetime.timedelta(0)
_MIN_SECONDS, _MAX_SECONDS = -62135596800, 253402300799   # Timestamp's range: years 1 to 9999


def _timestamp(target, value: datetime.datetime) -> None:
    """The library's timestamp of a datetime (naive = UTC; the instant in UTC, to the microsecond),
    by timedelta arithmetic: the helpers' astimezone + calendar.timegm cost ~6 µs, and a message
    writes 6 timestamps."""
    delta = value.replace(tzinfo=None) - _EPOCH - (value.utcoffset() or _ZERO)
    seconds = delta.days * 86400 + delta.seconds
    if not _MIN_SECONDS <= seconds <= _MAX_SECONDS:
        target.timestamp_value.FromDatetime(value)   # out of range: the protobuf helper's own error
        return
    target.timestamp_value.seconds = seconds
    target.timestamp_value.nanos = delta.microseconds * 1000


@functools.lru_cache(maxsize=4)
def _commit(db) -> tuple[rpc.Method, tuple]:
    """The Commit method on this client's channel, and the metadata the generated client sends."""
    method = rpc.method(db._firestore_api.transport.grpc_channel, "/google.firestore.v1.Firestore/Commit",
                        firestore.CommitResponse.pb(), COMMIT_RETRY, 1.3)
    return method, (*db._rpc_metadata, to_grpc_metadata((("database", db._database_string),)))


# Writes per grouped Commit: a message is 2 (+ media records) with ~6 field transforms on the
# conversation, well inside Firestore's per-commit limits even at this cap.
GROUP_MAX_WRITES = 60


@functools.lru_cache(maxsize=4)
def _group(db) -> Coalescer:
    """Grouped Commits on this client. A client error (ALREADY_EXISTS, INVALID_ARGUMENT, ...) may be
    one batch's doing, so the group is retried batch by batch; server errors fail the group."""
    method, metadata = _commit(db)
    database = db._database_string
    return Coalescer(lambda writes, timeout: method.call(_Commit(database=database, writes=writes), metadata,
                                                         timeout).write_results,
                     max_items=GROUP_MAX_WRITES, isolate=rpc.client_error)
