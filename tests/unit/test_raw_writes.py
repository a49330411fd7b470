"""The raw-protobuf batch builds exactly the CommitRequest writes google-cloud-firestore would."""
import datetime
import random

import pytest
from google.auth.credentials import AnonymousCredentials
from google.api_core.datetime_helpers import DatetimeWithNanoseconds
from google.cloud import firestore

from utalk.repositories.raw_writes import Batch

DB = firestore.Client(project="p", credentials=AnonymousCredentials())
REF = DB.collection("workspaces").document("ws_1").collection("conversations").document("c1")
UTC = datetime.timezone.utc


def library(op: str, data: dict) -> list:
    batch = DB.batch()
    if op == "create":
        batch.create(REF, data)
    else:
        batch.set(REF, data, merge=op == "merge")
    return [w._pb for w in batch._write_pbs]


def ours(op: str, data: dict) -> list:
    batch = Batch(DB)
    if op == "create":
        batch.create(REF, data)
    else:
        batch.set(REF, data, merge=op == "merge")
    return batch.writes


INBOUND_MESSAGE = {
    "id": "msg_1", "conversationId": "c1", "workspaceId": "ws_1", "messageId": None, "providerId": "SM1",
    "type": "text", "text": "hola", "mediaId": None, "location": {"latitude": 19.4, "longitude": -99.1, "label": None},
    "sender": "+5215512345678", "direction": "inbound", "status": "received", "metadata": {"profileName": "Ana"},
    "createdAt": firestore.SERVER_TIMESTAMP, "updatedAt": firestore.SERVER_TIMESTAMP,
}
CONVERSATION_MERGE = {
    "id": "c1", "workspaceId": "ws_1", "participants": ["+1", "+2"], "customer": {"address": "+1", "waId": "1"},
    "unreadCount": firestore.Increment(1), "messageCount": firestore.Increment(1),
    "lastMessage": {"text": "hola", "direction": "inbound", "type": "text", "at": firestore.SERVER_TIMESTAMP},
    "lastMessageAt": firestore.SERVER_TIMESTAMP, "updatedAt": firestore.SERVER_TIMESTAMP,
}


@pytest.mark.parametrize("op", ["create", "set", "merge"])
@pytest.mark.parametrize("data", [
    INBOUND_MESSAGE, CONVERSATION_MERGE, {}, {"empty": {}}, {"only": {"ts": firestore.SERVER_TIMESTAMP}},
    {"nested": {"deeper": {"x": 1, "t": firestore.Increment(2.5)}, "y": [1, "a", None, {"k": True}]}},
    {"when": datetime.datetime(2026, 11, 26, 12, 0, 1, 123456, tzinfo=UTC), "naive": datetime.datetime(2026, 1, 1),
     "raw": b"\x00\x01", "big": 2**62, "neg": -1.5, "flag": False,
     "east": datetime.datetime(2026, 1, 1, 0, 30, 0, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=5, minutes=30))),
     "west": datetime.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone(datetime.timedelta(hours=-8))),
     "odd offset": datetime.datetime(2026, 6, 1, 12, 0, 0, 500000,
                                     tzinfo=datetime.timezone(datetime.timedelta(seconds=30, microseconds=700000))),
     "old": datetime.datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=UTC), "first": datetime.datetime(1, 1, 1),
     "last": datetime.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
     "nanos": DatetimeWithNanoseconds(2026, 11, 26, 12, 0, 1, nanosecond=123456789, tzinfo=UTC)},
    {"tags": firestore.ArrayUnion(["a", "b"]), "gone": firestore.ArrayRemove([1]), "hi": firestore.Maximum(3),
     "lo": firestore.Minimum(0.5)},
    {"odd key": 1, "weird`name": {"a.b": 2}, "_ok": 3},
], ids=["message", "conversation", "empty", "empty-map", "only-sentinels", "nested", "scalars", "transforms",
        "quoted-keys"])
def test_same_writes_as_the_library(op, data):
    assert ours(op, data) == library(op, data)


def test_delete_field_only_in_a_merge():
    data = {"a": 1, "b": firestore.DELETE_FIELD}
    assert ours("merge", data) == library("merge", data)
    for op in ("create", "set"):
        with pytest.raises(ValueError):
            ours(op, data)


def _random_value(rnd: random.Random, depth: int):
    kinds = ["none", "bool", "int", "float", "str", "list", "ts", "inc", "when"] + (["dict"] * 2 if depth < 3 else [])
    kind = rnd.choice(kinds)
    if kind == "dict":
        return {f"k{rnd.randrange(6)}": _random_value(rnd, depth + 1) for _ in range(rnd.randrange(4))}
    return {"none": None, "bool": rnd.random() < 0.5, "int": rnd.randrange(-10**6, 10**6), "float": rnd.random(),
            "str": "s" * rnd.randrange(5), "list": [rnd.randrange(9), "x"], "ts": firestore.SERVER_TIMESTAMP,
            "inc": firestore.Increment(rnd.randrange(1, 4)),
            "when": datetime.datetime(1, 1, 1) + datetime.timedelta(microseconds=rnd.randrange(2**58)) if depth % 2
            else datetime.datetime.fromtimestamp(rnd.uniform(-2e9, 4e9), datetime.timezone(
                datetime.timedelta(minutes=rnd.randrange(-14 * 60, 14 * 60 + 1))))}[kind]


@pytest.mark.parametrize("seed", range(200))
def test_random_documents_match_the_library(seed):
    rnd = random.Random(seed)
    data = {f"f{rnd.randrange(10)}": _random_value(rnd, 0) for _ in range(rnd.randrange(8))}
    for op in ("create", "set", "merge"):
        assert ours(op, data) == library(op, data), (op, data)


@pytest.mark.parametrize("delta", [1, -1])
def test_a_rate_limit_count_is_the_write_the_library_sends(monkeypatch, delta):
    """ratelimit._count builds its blind increment directly: it must be the library's merge."""
    from utalk import ratelimit

    monkeypatch.setattr(ratelimit.clients, "firestore", lambda: DB)
    now, path = 1_796_316_000.75, "rateLimits/abc-60-29938600-0"
    expire = datetime.datetime.fromtimestamp(int(now) + 120, UTC)
    batch = DB.batch()
    batch.set(DB.document(path), {"count": firestore.Increment(delta), "expireAt": expire}, merge=True)
    assert [ratelimit._count(path, now, 60, delta)] == [w._pb for w in batch._write_pbs]
