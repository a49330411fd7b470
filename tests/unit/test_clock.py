"""The movable clock's cost (utalk/clock.py): without UTALK_CLOCK_FILE no file is looked at and the
stamp is Firestore's server timestamp; with it, the file is stat'ed at most once a second and read
only when it changed, so the inbound webhook's `stamp()` per message costs nothing measurable."""
from __future__ import annotations

import importlib
import os
from datetime import datetime, timedelta, timezone

import pytest
from google.cloud.firestore_v1 import SERVER_TIMESTAMP


@pytest.fixture
def fresh_clock(monkeypatch, tmp_path):
    """utalk.clock imported anew with `UTALK_CLOCK_FILE` as the test sets it (None: unset)."""
    def load(path):
        if path is None:
            monkeypatch.delenv("UTALK_CLOCK_FILE", raising=False)
        else:
            monkeypatch.setenv("UTALK_CLOCK_FILE", str(path))
        from utalk import clock
        return importlib.reload(clock)
    yield load
    monkeypatch.undo()            # the stack's own variable back, then the module as the stack has it
    from utalk import clock
    importlib.reload(clock)


def stats(monkeypatch) -> list:
    calls = []
    real = os.stat
    monkeypatch.setattr(os, "stat", lambda p, *a, **k: (calls.append(p), real(p, *a, **k))[1])
    return calls


def test_unset_is_real_time_and_never_touches_a_file(fresh_clock, monkeypatch):
    clock = fresh_clock(None)
    calls = stats(monkeypatch)
    assert all(clock.stamp() is SERVER_TIMESTAMP for _ in range(1000))
    assert abs((clock.now() - datetime.now(timezone.utc)).total_seconds()) < 1
    assert calls == []


def test_a_moved_clock_is_seen_and_the_file_checked_at_most_once_a_second(fresh_clock, monkeypatch, tmp_path):
    path = tmp_path / "clock-offset"
    clock = fresh_clock(path)
    assert clock.stamp() is SERVER_TIMESTAMP              # no file: real time
    target = datetime(2026, 3, 2, 20, 0, tzinfo=timezone.utc)
    monkeypatch.setattr(clock.time, "sleep", lambda s: None)   # set() waits for other processes; not here
    clock.set(target)
    calls = stats(monkeypatch)
    stamps = [clock.stamp() for _ in range(10_000)]
    assert all(abs(s - target) < timedelta(seconds=5) for s in stamps)
    assert len(calls) <= 1        # one check at most within this second, however many calls
    clock.set(None)
    assert clock.stamp() is SERVER_TIMESTAMP
