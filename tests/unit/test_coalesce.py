"""Group commit: a lone caller goes at once, concurrent ones share calls, nobody hangs, nobody fails for another."""
from __future__ import annotations

import threading
import time

import pytest

from utalk.coalesce import Coalescer


class Line:
    """A send() that records each call's items and, when `hold` is set, blocks until released."""

    def __init__(self, fail_on: set | None = None):
        self.calls: list[list] = []
        self.hold, self.release, self.entered = False, threading.Event(), threading.Event()
        self.fail_on = fail_on or set()

    def __call__(self, items: list, timeout: float) -> list:
        self.calls.append(list(items))
        if self.hold:
            self.hold = False
            self.entered.set()
            assert self.release.wait(10)
        if self.fail_on & set(items):
            raise ConnectionError("publish failed")
        return [f"id-{item}" for item in items]


def run(coalescer: Coalescer, items: list, out: dict, key, timeout: float = 10) -> threading.Thread:
    def go():
        try:
            out[key] = coalescer.submit(items, timeout)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            out[key] = exc
    t = threading.Thread(target=go)
    t.start()
    return t


def busy_line(fail_on: set | None = None, max_items: int = 100, first: list | None = None, isolate=None):
    """A coalescer whose first call (of `first`) is in flight and held: (line, coalescer, thread, out)."""
    line, out = Line(fail_on), {}
    line.hold = True
    c = Coalescer(line, max_items=max_items, **({"isolate": isolate} if isolate else {}))
    thread = run(c, first or ["a"], out, "first")
    assert line.entered.wait(5)
    return line, c, thread, out


def wait_queued(coalescer: Coalescer, n: int) -> None:
    deadline = time.monotonic() + 10
    while len(coalescer._queue) < n and time.monotonic() < deadline:
        time.sleep(0.001)
    assert len(coalescer._queue) == n


def test_a_lone_caller_sends_its_own_items_at_once():
    line = Line()
    c = Coalescer(line)
    assert c.submit(["a", "b"], 1) == ["id-a", "id-b"]
    assert c.submit(["c"], 1) == ["id-c"]
    assert line.calls == [["a", "b"], ["c"]]


def test_callers_arriving_during_a_call_share_the_next_one_and_get_their_own_answers():
    line, c, first, out = busy_line()
    others = [run(c, [f"m{i}", f"n{i}"], out, i) for i in range(5)]
    wait_queued(c, 5)
    line.release.set()
    for t in [first, *others]:
        t.join(10)
    assert out["first"] == ["id-a"]
    assert all(out[i] == [f"id-m{i}", f"id-n{i}"] for i in range(5))
    assert len(line.calls) == 2 and sorted(line.calls[1]) == sorted(f"{p}{i}" for i in range(5) for p in "mn")
    for i in range(5):  # one caller's items stay together and in order
        at = line.calls[1].index(f"m{i}")
        assert line.calls[1][at + 1] == f"n{i}"
    assert c.submit(["z"], 1) == ["id-z"] and line.calls[-1] == ["z"]  # the line is idle again


def test_a_failed_call_fails_everyone_in_it_and_the_line_goes_on():
    line, c, first, out = busy_line(fail_on={"bad"})
    batch = [run(c, ["bad"], out, "bad"), run(c, ["ok"], out, "ok")]
    wait_queued(c, 2)
    line.release.set()
    for t in [first, *batch]:
        t.join(10)
    assert out["first"] == ["id-a"]
    assert isinstance(out["bad"], ConnectionError) and isinstance(out["ok"], ConnectionError)
    assert c.submit(["later"], 1) == ["id-later"]


def test_an_isolated_error_sends_each_caller_again_alone_so_only_its_cause_fails():
    line, c, first, out = busy_line(fail_on={"bad"}, isolate=lambda exc: isinstance(exc, ConnectionError))
    batch = [run(c, ["ok1", "ok2"], out, "ok"), run(c, ["bad"], out, "bad"), run(c, ["ok3"], out, "ok3")]
    wait_queued(c, 3)
    line.release.set()
    for t in [first, *batch]:
        t.join(10)
    assert out["ok"] == ["id-ok1", "id-ok2"] and out["ok3"] == ["id-ok3"]
    assert isinstance(out["bad"], ConnectionError)
    assert sorted(map(tuple, line.calls[2:])) == [("bad",), ("ok1", "ok2"), ("ok3",)]  # after [a], the shared call
    assert c.submit(["later"], 1) == ["id-later"] and line.calls[-1] == ["later"]


def test_a_lone_callers_isolated_error_is_raised_without_a_second_try():
    line = Line(fail_on={"bad"})
    c = Coalescer(line, isolate=lambda exc: True)
    with pytest.raises(ConnectionError):
        c.submit(["bad"], 1)
    assert line.calls == [["bad"]]


def test_a_call_carries_at_most_max_items_and_the_rest_follow():
    line, c, first, out = busy_line(max_items=4, first=["x"])
    others = []
    for i in range(5):  # queued in a known order
        others.append(run(c, [f"a{i}", f"b{i}"], out, i))
        wait_queued(c, i + 1)
    line.release.set()
    for t in [first, *others]:
        t.join(10)
    assert [len(call) for call in line.calls] == [1, 4, 4, 2]
    assert all(out[i] == [f"id-a{i}", f"id-b{i}"] for i in range(5))


def test_a_caller_that_waits_too_long_leaves_the_queue_unsent():
    line, c, first, out = busy_line()
    late = run(c, ["late"], out, "late", timeout=0.05)
    late.join(5)
    assert isinstance(out["late"], TimeoutError)
    line.release.set()
    first.join(5)
    assert line.calls == [["a"]]  # the caller that gave up was never sent
    assert c.submit(["b"], 1) == ["id-b"]


def test_a_single_caller_error_is_raised_to_it():
    c = Coalescer(Line(fail_on={"x"}))
    with pytest.raises(ConnectionError):
        c.submit(["x"], 1)
    assert c.submit(["y"], 1) == ["id-y"]
