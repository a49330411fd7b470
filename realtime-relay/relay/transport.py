"""Process tuning for many sockets (DESIGN.md, "Socket.IO fan-out"), and dropping transports on shutdown.

* WebSocket permessage-deflate is declined by the handshake itself (relay/web.py): a zlib context
  per socket was most of the ~123 KB per socket first measured, and Node's socket.io declines it too.
* Garbage collection: a relay allocates many small short-lived objects per emit; the default
  gen0 threshold (700) triggers frequent collections, and full collections over every socket's
  objects produced the p99 pauses. Startup objects are frozen out of the collector's sight.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import time

GC_THRESHOLDS = (50_000, 50, 100)


def tune_gc() -> None:
    """Call once startup is done: what exists now lives for the process's lifetime."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    gc.callbacks.append(_log_slow_collections)


_gc_started = 0.0
SLOW_GC_SECONDS = 0.05


def _log_slow_collections(phase: str, info: dict) -> None:
    """A collection that pauses the loop long enough to show in delivery latency gets a log line."""
    global _gc_started
    if phase == "start":
        _gc_started = time.perf_counter()
        return
    took = time.perf_counter() - _gc_started
    if took >= SLOW_GC_SECONDS:
        logging.getLogger("utalk.relay.transport").warning("slow garbage collection", extra={
            "generation": info.get("generation"), "seconds": round(took, 3),
            "collected": info.get("collected"), "counts": gc.get_count()})


async def drop_transports(sio) -> None:
    """Shutdown: close every connection without a Socket.IO/engine.io close packet. Clients treat
    a server disconnect packet as final, but a dropped transport as a reason to reconnect (to
    another instance behind the load balancer, or to this one once restarted)."""
    for eio_socket in list(sio.eio.sockets.values()):
        try:
            await eio_socket.drop()  # relay/engine.py LeanSocket
        except Exception:
            logging.getLogger("utalk.relay.transport").exception("closing a transport failed")


async def watch_loop_lag(interval: float = 0.1, report_over: float = 0.25) -> None:
    """Logs when the event loop wakes this task much later than asked: every socket's deliveries
    were held up that long (blocking work, GC, or the machine starving the process of CPU)."""
    log = logging.getLogger("utalk.relay.transport")
    while True:
        started = time.perf_counter()
        await asyncio.sleep(interval)
        lag = time.perf_counter() - started - interval
        if lag > report_over:
            log.warning("event loop lag", extra={"seconds": round(lag, 3)})
