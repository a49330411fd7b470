"""Forming a group deterministically on a real coalesced line (Commit or Publish): the first call is
held in flight until the others have queued behind it, so they share the next call."""
from __future__ import annotations

import threading
import time
from typing import Callable


class HeldFirstCall:
    """Wraps `coalescer`'s send: the first call waits until `queued` callers wait behind it; counts
    the items of every call sent."""

    def __init__(self, monkeypatch, coalescer, queued: int):
        self.coalescer, self.send, self.queued = coalescer, coalescer._send, queued
        self.calls: list[int] = []
        self.entered = threading.Event()
        monkeypatch.setattr(coalescer, "_send", self)

    def __call__(self, items: list, timeout: float) -> list:
        if not self.entered.is_set():
            self.entered.set()
            deadline = time.monotonic() + 10
            while len(self.coalescer._queue) < self.queued and time.monotonic() < deadline:
                time.sleep(0.001)
        self.calls.append(len(items))
        return self.send(items, timeout)

    def run_all(self, calls: list[Callable[[], object]]) -> list:
        """Each call from a thread of its own, the first leading: results or exceptions, in order."""
        out: list = [None] * len(calls)

        def go(i: int) -> None:
            try:
                out[i] = calls[i]()
            except Exception as exc:  # noqa: BLE001 - the test inspects it
                out[i] = exc
        threads = [threading.Thread(target=go, args=(i,)) for i in range(len(calls))]
        threads[0].start()
        assert self.entered.wait(10)
        for t in threads[1:]:
            t.start()
        for t in threads:
            t.join(30)
        return out
