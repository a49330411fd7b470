"""What the benchmarks share: the Python load generator, Firestore RPC counting, server cleanup.

`drive(port, make, concurrency, seconds)` runs `concurrency` closed loops over keep-alive connections
(in two processes: one Python process cannot drive 64 alone), each sending `make(rnd, tag)` ->
(method, path, body, headers) back to back, `tag` unique per request; the time to build a request is
not in its latency. `combine()` sums interleaved rounds of one server. `FirestoreOps` counts this
process's Firestore RPCs, the client library's and the raw-protobuf Commits of utalk/rpc.py.
"""
from __future__ import annotations

import http.client
import multiprocessing as mp
import os
import random
import threading
import time
from typing import Callable

Make = Callable[[random.Random, str], tuple[str, str, bytes | str | None, dict]]


def _worker(port: int, make: Make, threads: int, seconds: float, out: mp.Queue) -> None:
    deadline = time.monotonic() + seconds
    results: list[tuple[float, bool]] = []
    lock = threading.Lock()
    pid = os.getpid()

    def loop(tid: int):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        rnd = random.Random(pid * 1000 + tid)
        mine, n = [], 0
        while time.monotonic() < deadline:
            n += 1
            method, path, body, headers = make(rnd, f"p{pid}t{tid}n{n}")
            started = time.perf_counter()
            ok = False
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                ok = 200 <= resp.status < 300   # webhooks 200; a web visitor's first send 201
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append((time.perf_counter() - started, ok))
        with lock:
            results.extend(mine)

    pool = [threading.Thread(target=loop, args=(t,)) for t in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put(results)


def drive(port: int, make: Make, concurrency: int, seconds: float) -> dict:
    procs = min(2, concurrency)
    out: mp.Queue = mp.Queue()
    started = time.monotonic()
    workers = [mp.Process(target=_worker, args=(port, make, concurrency // procs + (i < concurrency % procs),
                                                seconds, out)) for i in range(procs)]
    for w in workers:
        w.start()
    samples = [s for _ in workers for s in out.get()]
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    lat = sorted(s[0] for s in samples)
    pct = lambda p: lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1000 if lat else float("nan")  # noqa: E731
    return {"requests": len(samples), "failures": sum(1 for s in samples if not s[1]), "seconds": elapsed,
            "rps": len(samples) / elapsed, "p50": pct(50), "p95": pct(95), "p99": pct(99)}


def combine(runs: list[dict]) -> dict:
    """Rounds of one server at one level: throughput over all of them, the median round's percentiles."""
    median = lambda k: sorted(r[k] for r in runs)[len(runs) // 2]  # noqa: E731
    requests = sum(r["requests"] for r in runs)
    return {"requests": requests, "failures": sum(r["failures"] for r in runs),
            "rps": requests / sum(r["seconds"] for r in runs), "p50": median("p50"), "p95": median("p95"),
            "p99": median("p99"), "rounds": [r["rps"] for r in runs]}


class FirestoreOps:
    """Counts reads, writes, commits, queries and transactions this process sends to Firestore."""

    KINDS = ("reads", "writes", "commits", "queries", "transactions")

    def __init__(self):
        from utalk import clients, rpc

        self.counts = dict.fromkeys(self.KINDS, 0)
        api = clients.firestore()._firestore_api
        for name in ("batch_get_documents", "commit", "run_query", "begin_transaction"):
            setattr(api, name, self._counted(name, getattr(api, name)))
        raw_call, counts = rpc.Method.call, self.counts

        def counted_raw(method, request, metadata, timeout=30.0):
            if method.path.endswith("/Commit"):
                counts["commits"] += 1
                counts["writes"] += len(request.writes)
            return raw_call(method, request, metadata, timeout)
        rpc.Method.call = counted_raw

    def _counted(self, name: str, fn):
        def counted(*args, **kwargs):
            request = kwargs.get("request") or (args[0] if args else None)
            if name == "batch_get_documents":
                self.counts["reads"] += len(getattr(request, "documents", []) or request.get("documents", []))
            elif name == "commit":
                self.counts["commits"] += 1
                self.counts["writes"] += len(getattr(request, "writes", []) or request.get("writes", []))
            elif name == "run_query":
                self.counts["queries"] += 1
            elif name == "begin_transaction":
                self.counts["transactions"] += 1
            return fn(*args, **kwargs)
        return counted

    def reset(self) -> None:
        for k in self.counts:
            self.counts[k] = 0

    def per(self, n: int) -> dict:
        return {k: v / n for k, v in self.counts.items()}


def stop(stack, *names: str) -> None:
    """Terminate the servers a benchmark spawned on `stack` (the emulators are stopped apart)."""
    for name in names:
        proc = stack.procs.pop(name, None)
        if proc and proc.poll() is None:
            proc.terminate()
            proc.wait(10)
