"""Concurrent message stores share Commits on the Firestore emulator: each message stays atomic,
counters come out exact, and a duplicate in a shared Commit fails only itself."""
from __future__ import annotations

import pytest
from google.cloud import firestore

from utalk.repositories import raw_writes
from utalk.repositories.messages import Duplicate, MessageRepository
from utalk.repositories.transforms import transform_result

from tests.coalesce_support import HeldFirstCall

WS = "ws_grouped"


def message(conv: str, msg: str) -> dict:
    return {"id": msg, "conversationId": conv, "workspaceId": WS, "type": "text", "text": msg,
            "direction": "inbound", "status": "received", "createdAt": firestore.SERVER_TIMESTAMP}


def fields() -> dict:
    return {"unreadCount": firestore.Increment(1), "messageCount": firestore.Increment(1),
            "updatedAt": firestore.SERVER_TIMESTAMP}


def held_line(monkeypatch, queued: int) -> HeldFirstCall:
    return HeldFirstCall(monkeypatch, raw_writes._group(MessageRepository(WS).scope.db), queued)


def store_all(line: HeldFirstCall, stores: list[tuple[str, str]]) -> list:
    """Store (conversation, message) pairs concurrently, the first one leading: each store's new
    messageCount, or the exception it raised, in the order given."""
    repo = MessageRepository(WS)

    def store(conv: str, msg: str):
        f = fields()
        return lambda: transform_result(repo.store(message(conv, msg), f)[-1], f, "messageCount")
    return line.run_all([store(conv, msg) for conv, msg in stores])


def conversation(conv: str) -> dict:
    return MessageRepository(WS).conversations.document(conv).get().to_dict()


def stored(conv: str) -> list[str]:
    return sorted(d.id for d in MessageRepository(WS).conversations.document(conv).collection("messages").stream())


def test_stores_waiting_behind_a_commit_share_the_next_one_with_exact_counters(clean, monkeypatch):
    line = held_line(monkeypatch, queued=4)
    out = store_all(line, [("c1", "m1"), ("c1", "m2"), ("c2", "m3"), ("c1", "m4"), ("c1", "m5")])
    assert line.calls == [2, 8]  # the leader alone, then four messages' writes in one Commit
    assert out[0] == 1 and sorted(out[i] for i in (1, 3, 4)) == [2, 3, 4]  # each saw its own increment
    assert out[2] == 1
    assert conversation("c1")["messageCount"] == 4 and conversation("c1")["unreadCount"] == 4
    assert stored("c1") == ["m1", "m2", "m4", "m5"] and stored("c2") == ["m3"]


def test_a_duplicate_in_a_shared_commit_fails_alone_and_the_others_are_stored_once(clean, monkeypatch):
    MessageRepository(WS).store(message("c1", "dup"), fields())
    line = held_line(monkeypatch, queued=3)
    out = store_all(line, [("c1", "m1"), ("c1", "m2"), ("c1", "dup"), ("c2", "m3")])
    assert line.calls[:2] == [2, 6] and sorted(line.calls[2:]) == [2, 2, 2]  # refused whole, then one by one
    assert isinstance(out[2], Duplicate)
    assert out[:2] == [2, 3]  # dup was 1; the leader m1 went alone, m2 again by itself
    assert out[3] == 1
    assert conversation("c1")["messageCount"] == 3  # dup counted once, when it was first stored
    assert stored("c1") == ["dup", "m1", "m2"] and stored("c2") == ["m3"]


def test_a_lone_duplicate_is_reported_without_a_second_commit(clean, monkeypatch):
    MessageRepository(WS).store(message("c1", "dup"), fields())
    line = held_line(monkeypatch, queued=0)
    with pytest.raises(Duplicate):
        MessageRepository(WS).store(message("c1", "dup"), fields())
    assert line.calls == [2]
    assert conversation("c1")["messageCount"] == 1


def test_the_same_message_twice_in_one_commit_is_stored_once(clean, monkeypatch):
    line = held_line(monkeypatch, queued=3)
    out = store_all(line, [("c1", "m1"), ("c1", "m2"), ("c1", "m2"), ("c1", "m3")])  # a retry racing its original
    assert line.calls[:2] == [2, 6]
    assert sorted(type(v).__name__ for v in out[1:3]) == ["Duplicate", "int"]  # one of the two stored it
    assert conversation("c1")["messageCount"] == 3 and stored("c1") == ["m1", "m2", "m3"]
