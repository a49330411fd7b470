"""Group commit for a batchable RPC: what concurrent callers submit while a call is in flight goes
out together in the next call.

No background thread: the caller that finds the line idle sends its own items at once (so a lone
request waits for nothing), and the ones that arrive meanwhile queue up; when a call returns, its
sender hands the lead to the first queued caller, which sends everything queued. Under load this
turns N concurrent Publish (or Commit) RPCs into a few, which is most of what each costs on both ends.

A shared call fails for everyone in it. When the failure may be one caller's own doing (`isolate`,
e.g. a Commit refused because one caller's document already exists), each caller's items go again
in a call of their own instead, so the others are not failed for it.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Sequence


_ALONE = object()  # the slot's items go again in a call of their own


class _Slot:
    __slots__ = ("items", "done", "lead", "result", "error")

    def __init__(self, items: Sequence):
        self.items, self.done, self.lead = items, threading.Event(), False
        self.result: list | None = None
        self.error: BaseException | None = None


class Coalescer:
    """`submit(items)` returns this caller's share of `send(all items)`'s answer (one per item).

    `isolate(error)`: whether a shared call's error may come from one caller's items alone."""

    def __init__(self, send: Callable[[list, float], list], max_items: int = 100,
                 isolate: Callable[[BaseException], bool] = lambda exc: False):
        self._send, self.max_items, self._isolate = send, max_items, isolate
        self._lock = threading.Lock()
        self._queue: list[_Slot] = []
        self._busy = False

    def submit(self, items: Sequence, timeout: float) -> list:
        deadline, slot = time.monotonic() + timeout, _Slot(items)
        with self._lock:
            self._queue.append(slot)
            slot.lead = not self._busy
            self._busy = True
        if not slot.lead and not slot.done.wait(timeout):
            with self._lock:
                if not slot.lead and slot in self._queue:  # never sent: give up cleanly
                    self._queue.remove(slot)
                    raise TimeoutError("not sent in time")
            slot.done.wait()  # in flight or just handed the lead: the answer is on its way
        if slot.lead:
            self._lead(max(0.001, deadline - time.monotonic()))
        if slot.error is _ALONE:
            return list(self._send(list(slot.items), max(0.001, deadline - time.monotonic())))
        if slot.error is not None:
            raise slot.error
        return slot.result

    def _lead(self, timeout: float) -> None:
        with self._lock:
            batch, count = [], 0
            while self._queue and (not batch or count + len(self._queue[0].items) <= self.max_items):
                batch.append(self._queue.pop(0))
                count += len(batch[-1].items)
        try:
            results = self._send([item for slot in batch for item in slot.items], timeout)
            for slot in batch:
                slot.result, results = list(results[:len(slot.items)]), results[len(slot.items):]
        except BaseException as exc:  # every caller in the batch learns of the failure, or tries alone
            alone = len(batch) > 1 and self._isolate(exc)
            for slot in batch:
                slot.error = _ALONE if alone else exc
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].lead = True
                    self._queue[0].done.set()
                else:
                    self._busy = False
            for slot in batch:
                slot.done.set()
